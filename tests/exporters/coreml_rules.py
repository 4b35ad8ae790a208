"""Core ML's validator rules for updatable neural networks, restated for the tests.

Core ML's validator (UpdatableNeuralNetworkValidator in coremltools' mlmodel sources) cannot run
on Linux, so its rules are written out here from its documented behaviour, independently of
mlspec's exporter, and every exported model is judged by them. Returns the broken rules in
Core ML's words; an empty list means the validator would accept the model.
"""

from __future__ import annotations

from typing import Any

_BACKPROP = {"convolution", "innerProduct", "flatten", "pooling", "batchnorm"}
_BACKPROP_ACTIVATIONS = {"ReLU", "sigmoid", "tanh"}


def _network(model: Any) -> Any:
    return getattr(model, model.WhichOneof("Type"))


def _in_range(param: Any) -> bool:
    if param.WhichOneof("AllowedValues") == "range":
        return bool(param.range.minValue <= param.defaultValue <= param.range.maxValue)
    if param.WhichOneof("AllowedValues") == "set":
        return param.defaultValue in list(param.set.values)
    return True


def broken_rules(model: Any) -> list[str]:
    if not model.isUpdatable:
        return []
    broken: list[str] = []
    if model.specificationVersion < 4:
        broken.append("updatable models need specification version 4")
    network = _network(model)
    layers = list(network.layers)
    if not any(layer.isUpdatable for layer in layers):
        broken.append("marked updatable, but no layer is")
    for layer in layers:
        if not layer.isUpdatable:
            continue
        kind = layer.WhichOneof("layer")
        if kind not in ("convolution", "innerProduct"):
            broken.append(f"{layer.name}: only convolution and inner product layers are updatable")
            continue
        params = getattr(layer, kind)
        if not params.weights.isUpdatable or (params.hasBias and not params.bias.isUpdatable):
            broken.append(f"{layer.name}: a weight or bias is not marked updatable")
    update = network.updateParams
    names = [layer.name for layer in layers] + [loss.name for loss in update.lossLayers]
    if len(names) != len(set(names)):
        broken.append("name collision among layers and loss layers")
    if len(update.lossLayers) != 1:
        broken.append("exactly one loss layer")
        return broken
    (loss,) = update.lossLayers
    producer = {name: layer for layer in layers for name in layer.output}
    which = loss.WhichOneof("LossLayerType")
    body = getattr(loss, which)
    if which == "categoricalCrossEntropyLossLayer":
        source = producer.get(body.input)
        if source is None or source.WhichOneof("layer") != "softmax":
            broken.append("cross-entropy input is not generated from a softmax output")
    elif body.input not in producer:
        broken.append("MSE input is not generated within the graph")
    if body.target in producer:
        broken.append("loss target is generated within the graph")
    optimizer = update.optimizer
    kind = optimizer.WhichOneof("OptimizerType")
    required = {
        "sgdOptimizer": ("learningRate", "miniBatchSize"),
        "adamOptimizer": ("learningRate", "miniBatchSize", "beta1", "beta2", "eps"),
    }.get(kind or "")
    if required is None:
        broken.append("optimizer is not recognized")
    else:
        settings = getattr(optimizer, kind or "")
        for name in required:
            if not settings.HasField(name):
                broken.append(f"optimizer lacks {name}")
            elif not _in_range(getattr(settings, name)):
                broken.append(f"{name} default outside its allowed values")
    if not update.HasField("epochs"):
        broken.append("epochs missing")
    elif not _in_range(update.epochs):
        broken.append("epochs default outside its allowed values")
    broken.extend(_training_input_rules(model, network, body.target))
    broken.extend(_backprop_rules(layers, producer, body.input, which))
    return broken


def _training_input_rules(model: Any, network: Any, target: str) -> list[str]:
    description = model.description
    training = list(description.trainingInput)
    if len(training) <= 1:
        return ["needs training inputs for both the input and the target"]
    inputs = {(f.name, f.type.SerializeToString()) for f in description.input}
    exclusive = [f for f in training if (f.name, f.type.SerializeToString()) not in inputs]
    if not exclusive or len(exclusive) == len(training):
        return ["training inputs must share an input with prediction and add the target"]
    outputs = {f.name: f for f in description.output}
    for feature in exclusive:
        if feature.name == target:
            return []
        label = description.predictedFeatureName
        if model.WhichOneof("Type") == "neuralNetworkClassifier" and feature.name == label:
            if feature.type != outputs[label].type:
                return ["classifier target type differs from the predicted feature's"]
            return []
    return [f"training inputs lack the loss target {target}"]


def _backprop_rules(
    layers: list[Any], producer: dict[str, Any], loss_input: str, loss_kind: str
) -> list[str]:
    """Breadth-first from the loss: no updatable layer beyond a layer without back-propagation."""
    start = producer.get(loss_input)
    if start is None:
        return []
    frontier = [(start, loss_kind == "categoricalCrossEntropyLossLayer")]
    visited = {start.name}
    blocked = False
    while frontier:
        layer, feeds_cross_entropy = frontier.pop(0)
        if layer.isUpdatable and blocked:
            return [f"{layer.name}: a layer without back-propagation lies between it and the loss"]
        kind = layer.WhichOneof("layer")
        passes = kind in _BACKPROP or (
            kind == "activation" and layer.activation.WhichOneof("NonlinearityType") in _BACKPROP_ACTIVATIONS
        )
        if not passes and not (kind == "softmax" and feeds_cross_entropy):
            blocked = True
        for name in layer.input:
            parent = producer.get(name)
            if parent is not None and parent.name not in visited:
                visited.add(parent.name)
                frontier.append((parent, False))
    return []
