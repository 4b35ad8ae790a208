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
from mlspec.spec.shapes import TensorInfo


def sync_training_inputs(model: model_pb2.Model, shapes: dict[str, TensorInfo]) -> None:
    """Rebuild the training inputs from the losses; never raises, so reading a spec always works.

    Where a target's type cannot be derived (the loss input's shape is unknown) the entry already
    declared is kept, or an untyped one is written for validation to report. Declared class-index
    targets are kept as they are; every other target follows the network (a widened regression
    output widens its target). When two losses
    share a target name the first one's type wins; ``target_conflict`` lets an edit refuse that
    up front.
    """
    losses = model.update_parameters.loss_layers
    if not losses:
        return
    declared = {f.name: f for f in model.description.training_inputs}
    wanted: dict[str, tensor_pb2.FeatureDescription] = {}
    read = _model_inputs_read(model, [loss.input for loss in losses])
    for feature in model.description.inputs:
        if feature.name in read:
            wanted[feature.name] = feature
    for loss in losses:
        if loss.target in wanted:
            continue
        feature_type = target_type(model, loss, shapes)
        feature = tensor_pb2.FeatureDescription(name=loss.target)
        if loss.target in declared and (feature_type is None or _index_target(model, loss)):
            feature.CopyFrom(declared[loss.target])
        elif feature_type is not None:
            feature.type.CopyFrom(feature_type)
        wanted[loss.target] = feature
    del model.description.training_inputs[:]
    for name, feature in wanted.items():
        entry = model.description.training_inputs.add()
        entry.CopyFrom(feature)
        if name in declared:
            entry.short_description = declared[name].short_description


def _index_target(model: model_pb2.Model, loss: training_pb2.LossLayer) -> bool:
    """A cross-entropy target holding class indices; several declarations of it are valid
    (Int64Type, int64 [batch] or [batch, 1]), so one the spec already has is kept."""
    if loss.WhichOneof("kind") != "categorical_cross_entropy":
        return False
    return not (model.HasField("classifier") and loss.target == model.classifier.predicted_feature_name)


def target_conflict(
    model: model_pb2.Model, new: training_pb2.LossLayer, shapes: dict[str, TensorInfo]
) -> str | None:
    """Name the loss whose target shares `new`'s target name but needs another type, if any."""
    wanted = target_type(model, new, shapes)
    for loss in model.update_parameters.loss_layers:
        if loss.target == new.target and target_type(model, loss, shapes) != wanted:
            return loss.name
    return None


def target_type(
    model: model_pb2.Model, loss: training_pb2.LossLayer, shapes: dict[str, TensorInfo]
) -> tensor_pb2.FeatureType | None:
    """The type the loss's target needs, or None when the loss input's shape is unknown."""
    if loss.WhichOneof("kind") == "categorical_cross_entropy":
        if model.HasField("classifier") and loss.target == model.classifier.predicted_feature_name:
            return label_feature_type(model)
        feature_type = tensor_pb2.FeatureType()
        feature_type.int64_type.SetInParent()
        return feature_type
    info = shapes.get(loss.input)
    return tensor_feature_type(None if info is None else TensorInfo(tensor_pb2.FLOAT32, info.dims))


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
