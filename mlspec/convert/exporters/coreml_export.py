"""mlspec spec -> Core ML .mlmodel (NeuralNetwork, NeuralNetworkClassifier, or a k-NN classifier
alone or after a feature extractor, see coreml_knn), updatable included.

coremltools' converters stopped writing updatable models, so a PyTorch or ONNX model could only
become one by editing protobuf by hand. This writes Core ML's own format from a spec, so the
spec mlspec trains also trains with MLUpdateTask on Apple devices: layers and weights, class
labels, image inputs with their scaler, updatable layers and tensors, the loss, the optimizer
and every hyperparameter's default and allowed values, at specification version 4 (Core ML 3,
the first with updatable models) or 1
for a model that does not train.

The export is all or nothing. Everything Core ML cannot express is collected first and reported
together, one line per layer or setting with the reason, before anything is written. Besides
the layer writers (coreml_layers) and update parameters (coreml_training), the rules that Core
ML's own validator applies to updatable networks are checked here: only dense and convolution
layers train, with every weight flagged; training inputs hold the target; and gradients from the
loss reach each updatable layer through the few layer kinds Core ML back-propagates through.

Only coremltools' protobuf definitions are used (the optional extra `mlspec[coreml]`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlspec._proto import model_pb2, tensor_pb2
from mlspec.convert.coreml_images import export_image
from mlspec.convert.coreml_proto import coreml_model_proto
from mlspec.convert.exporters.coreml_knn import knn_model
from mlspec.convert.exporters.coreml_layers import (
    LayerContext,
    NotExpressibleError,
    backprop_supported,
    write_layer,
)
from mlspec.convert.exporters.coreml_training import Findings, update_parameters
from mlspec.spec import knn as spec_knn
from mlspec.spec.atomic import write_bytes_atomic
from mlspec.spec.errors import MlspecError, layer_ref
from mlspec.spec.images import ImageInput
from mlspec.spec.shapes import infer_shapes
from mlspec.spec.validate import validate

_FLOAT32 = 65568  # ArrayFeatureType.FLOAT32
_UPDATABLE_KINDS = ("inner_product", "convolution")


class CoreMLExportError(MlspecError):
    """The spec holds something Core ML cannot express; every such thing is listed."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("\n".join(self.lines()))

    def lines(self) -> list[str]:
        """One line per problem, each naming the layer or setting and why Core ML cannot hold it."""
        return [f"cannot write Core ML: {where}: {why}" for where, why in self.problems]


@dataclass
class CoreMLExport:
    """The Core ML model (coremltools' Model_pb2.Model) and what the export left out."""

    model: Any
    dropped: list[str]


def export_coreml(model: model_pb2.Model, *, drop_unsupported: bool = False) -> CoreMLExport:
    """Translate a valid spec; raise CoreMLExportError naming everything Core ML cannot hold.

    drop_unsupported: leave out settings that Core ML lacks but the model does not need to run
    (gradient clipping, a learning-rate schedule, AdamW without decay as Adam); each is listed
    in the result's `dropped`.
    """
    validate(model)
    coreml = coreml_model_proto(MlspecError, "export")
    findings = Findings(drop_unsupported=drop_unsupported)
    if spec_knn.is_knn(model):
        out = knn_model(model, coreml, findings, _network_model)
    else:
        out = _network_model(model, coreml, findings)
    _metadata(model.metadata, out.description.metadata)
    if findings.problems:
        raise CoreMLExportError(findings.problems)
    return CoreMLExport(out, findings.dropped)


def _network_model(model: model_pb2.Model, coreml: Any, findings: Findings) -> Any:
    """A NeuralNetwork or NeuralNetworkClassifier model; problems go to `findings`."""
    out = coreml.Model()
    out.specificationVersion = 4 if model.is_updatable else 1
    network = out.neuralNetworkClassifier if model.HasField("classifier") else out.neuralNetwork
    tensors = infer_shapes(model)
    _inputs(model, out.description, network, findings)
    context = LayerContext(tensors)
    for layer in model.network.layers:
        try:
            write_layer(context, layer, network.layers.add())
        except NotExpressibleError as exc:
            findings.refuse(f"{layer_ref(layer.name)} ({layer.WhichOneof('kind')})", str(exc))
    _outputs(model, out.description, network, tensors)
    if model.is_updatable:
        out.isUpdatable = True
        _updatable(model, out.description, network, findings)
    return out


def write_coreml(model: model_pb2.Model, path: str | Path, *, drop_unsupported: bool = False) -> list[str]:
    """Export and write atomically (nothing is written on refusal); returns what was left out."""
    result = export_coreml(model, drop_unsupported=drop_unsupported)
    write_bytes_atomic(path, result.model.SerializeToString())
    return result.dropped


def _array_type(tensor: tensor_pb2.TensorType, target: Any, where: str, findings: Findings) -> None:
    """[batch, C] or [batch, C, H, W] float32 -> Core ML's array [C] or [C, H, W]."""
    dims = list(tensor.shape)
    per_example = [d.size if d.WhichOneof("value") == "size" else -1 for d in dims[1:]]
    if (
        tensor.dtype != tensor_pb2.FLOAT32
        or len(per_example) not in (1, 3)
        or min(per_example, default=0) <= 0
    ):
        findings.refuse(
            where, "Core ML takes float32 arrays of fixed shape [batch, C] or [batch, C, H, W] here"
        )
        return
    target.multiArrayType.dataType = _FLOAT32
    target.multiArrayType.shape.extend(per_example)


def _feature(source: tensor_pb2.FeatureDescription, target: Any, findings: Findings, where: str) -> None:
    target.name = source.name
    target.shortDescription = source.short_description
    which = source.type.WhichOneof("kind")
    if which == "string_type":
        target.type.stringType.SetInParent()
    elif which == "int64_type":
        target.type.int64Type.SetInParent()
    else:
        _array_type(source.type.tensor, target.type, where, findings)


def _inputs(model: model_pb2.Model, description: Any, network: Any, findings: Findings) -> None:
    """Arrays, or images with their scaler as the network's preprocessing step."""
    for feature in model.description.inputs:
        where = f'description.inputs["{feature.name}"]'
        if not feature.type.HasField("tensor"):
            findings.refuse(where, "a Core ML network reads arrays")
            continue
        if not feature.HasField("image"):
            _feature(feature, description.input.add(), findings, where)
            continue
        target = description.input.add(name=feature.name, shortDescription=feature.short_description)
        problem = export_image(ImageInput.of(feature.image), feature.name, target.type, network)
        if problem:
            findings.refuse(f"{where}.image", problem)


def _outputs(model: model_pb2.Model, description: Any, network: Any, tensors: Any) -> None:
    classifier = model.classifier if model.HasField("classifier") else None
    int_labels = classifier is not None and classifier.WhichOneof("labels") == "int64_labels"
    for feature in model.description.outputs:
        target = description.output.add(name=feature.name, shortDescription=feature.short_description)
        if classifier is not None and feature.name == classifier.predicted_probabilities_name:
            key = target.type.dictionaryType
            (key.int64KeyType if int_labels else key.stringKeyType).SetInParent()
        elif classifier is not None and feature.name == classifier.predicted_feature_name:
            (target.type.int64Type if int_labels else target.type.stringType).SetInParent()
        else:
            target.type.multiArrayType.dataType = _FLOAT32
            info = tensors.get(feature.name)
            if info is not None and info.dims and all(isinstance(d, int) for d in info.dims[1:]):
                target.type.multiArrayType.shape.extend(info.dims[1:])
    if classifier is None:
        return
    if int_labels:
        network.int64ClassLabels.vector.extend(classifier.int64_labels.values)
    else:
        network.stringClassLabels.vector.extend(classifier.string_labels.values)
    network.labelProbabilityLayerName = classifier.predicted_probabilities_name
    description.predictedFeatureName = classifier.predicted_feature_name
    description.predictedProbabilitiesName = classifier.predicted_probabilities_name


def _updatable(model: model_pb2.Model, description: Any, network: Any, findings: Findings) -> None:
    for layer in model.network.layers:
        if not layer.is_updatable:
            continue
        kind = layer.WhichOneof("kind") or ""
        where = layer_ref(layer.name)
        if kind not in _UPDATABLE_KINDS:
            findings.refuse(where, f"an updatable {kind}; Core ML trains dense and convolution layers only")
            continue
        body = getattr(layer, kind)
        if not body.weights.is_updatable or (body.has_bias and not body.bias.is_updatable):
            findings.refuse(
                where, "trains only some of its tensors; Core ML trains weights and bias together"
            )
    softmax_outputs = {
        layer.outputs[0] for layer in model.network.layers if layer.WhichOneof("kind") == "softmax"
    }
    update_parameters(model.update_parameters, network.updateParams, findings, softmax_outputs)
    _training_inputs(model, description, findings)
    if not findings.problems:
        _check_backprop_paths(network, findings)


def _training_inputs(model: model_pb2.Model, description: Any, findings: Findings) -> None:
    inputs = {feature.name: feature for feature in description.input}
    label_type = None
    if model.HasField("classifier"):
        label_type = (
            "int64_type" if model.classifier.WhichOneof("labels") == "int64_labels" else "string_type"
        )
    ce_targets = {
        loss.target
        for loss in model.update_parameters.loss_layers
        if loss.HasField("categorical_cross_entropy")
    }
    for feature in model.description.training_inputs:
        where = f'description.training_inputs["{feature.name}"]'
        if feature.name in inputs:
            target = description.trainingInput.add(
                name=feature.name, shortDescription=feature.short_description
            )
            target.type.CopyFrom(inputs[feature.name].type)
            continue
        if feature.name in ce_targets and label_type and feature.type.WhichOneof("kind") != label_type:
            wanted = "int64 labels" if label_type == "int64_type" else "string labels"
            findings.refuse(where, f"class indices; Core ML feeds the classifier's true label ({wanted})")
            continue
        _feature(feature, description.trainingInput.add(), findings, where)


def _check_backprop_paths(network: Any, findings: Findings) -> None:
    """Core ML's rule, as its validator walks it: breadth-first from each loss towards the inputs,
    an updatable layer may not lie beyond a layer gradients do not pass through (a softmax feeding
    a cross-entropy loss directly is the one exception)."""
    producer = {name: layer for layer in network.layers for name in layer.output}
    for loss in network.updateParams.lossLayers:
        body = getattr(loss, loss.WhichOneof("LossLayerType") or "meanSquaredErrorLossLayer")
        cross_entropy = loss.HasField("categoricalCrossEntropyLossLayer")
        queue = [(producer[body.input], cross_entropy)] if body.input in producer else []
        seen: set[str] = set()
        blocker = ""
        while queue:
            layer, from_loss = queue.pop(0)
            if layer.name in seen:
                continue
            seen.add(layer.name)
            if layer.isUpdatable and blocker:
                findings.refuse(
                    layer_ref(layer.name),
                    f"Core ML passes no gradient through {layer_ref(blocker)} "
                    f"({_layer_kind(blocker, network)}) "
                    "on the way from the loss; Core ML back-propagates through dense, convolution, "
                    "flatten, pooling, batch norm, relu, sigmoid and tanh",
                )
                return
            softmax_at_loss = from_loss and layer.WhichOneof("layer") == "softmax"
            if not backprop_supported(layer) and not softmax_at_loss and not blocker:
                blocker = layer.name
            queue.extend((producer[name], False) for name in layer.input if name in producer)


def _layer_kind(name: str, network: Any) -> str:
    return next(str(layer.WhichOneof("layer")) for layer in network.layers if layer.name == name)


def _metadata(source: model_pb2.Metadata, target: Any) -> None:
    target.shortDescription = source.short_description
    target.versionString = source.version
    target.author = source.author
    target.license = source.license
    target.userDefined.update(dict(source.user_defined))
