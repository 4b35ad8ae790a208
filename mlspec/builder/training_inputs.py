"""Training inputs derived from the losses, so they are never missing, stale or duplicated.

coremltools appended training inputs on every loss call, so calling a loss setter twice left
duplicates behind. Here the list is recomputed from scratch after every change to the losses or
the network: the model inputs the losses read (Core ML lists them too, since training feeds them)
followed by one input per distinct loss target. Descriptions a user wrote are kept.

Target types:

- cross-entropy whose target is the classifier's predicted feature name: the class labels' type
  (StringType or Int64Type), so the true label can be fed as a label, as in Core ML;
- any other cross-entropy: Int64Type class indices;
- every other loss: a float tensor shaped like the loss input.
"""

from __future__ import annotations

from mlspec._proto import model_pb2, tensor_pb2, training_pb2
from mlspec.builder.description import label_feature_type, tensor_feature_type
from mlspec.spec import graph
from mlspec.spec.errors import SpecEditError
from mlspec.spec.shapes import TensorInfo


def sync_training_inputs(model: model_pb2.Model, shapes: dict[str, TensorInfo]) -> None:
    losses = model.update_parameters.loss_layers
    if not losses:
        return
    described = {f.name: f.short_description for f in model.description.training_inputs}
    wanted: dict[str, tensor_pb2.FeatureDescription] = {}
    read = _model_inputs_read(model, [loss.input for loss in losses])
    for feature in model.description.inputs:
        if feature.name in read:
            wanted[feature.name] = feature
    owner: dict[str, str] = {}
    for loss in losses:
        feature = tensor_pb2.FeatureDescription(name=loss.target, type=target_type(model, loss, shapes))
        previous = wanted.get(loss.target)
        if previous is not None and previous.type != feature.type:
            first = owner.get(loss.target, "a model input")
            raise SpecEditError(
                f'update_parameters.loss_layers["{loss.name}"].target: "{loss.target}" is also the target '
                f"of {first} with a different type; give each loss its own target name"
            )
        wanted.setdefault(loss.target, feature)
        owner.setdefault(loss.target, f'loss "{loss.name}"')
    del model.description.training_inputs[:]
    for name, feature in wanted.items():
        entry = model.description.training_inputs.add()
        entry.CopyFrom(feature)
        entry.short_description = described.get(name, feature.short_description)


def target_type(
    model: model_pb2.Model, loss: training_pb2.LossLayer, shapes: dict[str, TensorInfo]
) -> tensor_pb2.FeatureType:
    if loss.WhichOneof("kind") == "categorical_cross_entropy":
        if model.HasField("classifier") and loss.target == model.classifier.predicted_feature_name:
            return label_feature_type(model)
        feature_type = tensor_pb2.FeatureType()
        feature_type.int64_type.SetInParent()
        return feature_type
    info = shapes.get(loss.input)
    like_input = tensor_feature_type(None if info is None else TensorInfo(tensor_pb2.FLOAT32, info.dims))
    if like_input is None:
        raise SpecEditError(
            f'update_parameters.loss_layers["{loss.name}"]: the shape of its input "{loss.input}" is '
            "unknown, so its target cannot be shaped; fix the network's shapes first"
        )
    return like_input


def _model_inputs_read(model: model_pb2.Model, tensors: list[str]) -> set[str]:
    """Model inputs that any of `tensors` depends on, walking producers backwards."""
    inputs = set(graph.input_names(model))
    producers = graph.producers(model)
    seen: set[str] = set()
    stack = list(tensors)
    while stack:
        name = stack.pop()
        if name in seen:
            continue
        seen.add(name)
        producer = producers.get(name)
        if producer is not None:
            stack.extend(producer.inputs)
    return seen & inputs
