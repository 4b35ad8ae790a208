"""The parts of a model description the builder derives rather than asks for.

Output types, classifier outputs and training-input shapes all follow from the network; keeping
them derived means surgery (a wider classifier, a new input shape) cannot leave them stale.
"""

from __future__ import annotations

from collections.abc import Sequence

from mlspec._proto import model_pb2, tensor_pb2
from mlspec.spec.shapes import STRING, TensorInfo
from mlspec.spec.tensor_info import set_dims

Labels = Sequence[str] | Sequence[int]


def label_feature_type(model: model_pb2.Model) -> tensor_pb2.FeatureType:
    """StringType for string class labels, Int64Type otherwise (int labels or class indices)."""
    feature_type = tensor_pb2.FeatureType()
    if model.HasField("classifier") and model.classifier.WhichOneof("labels") == "string_labels":
        feature_type.string_type.SetInParent()
    else:
        feature_type.int64_type.SetInParent()
    return feature_type


def tensor_feature_type(info: TensorInfo | None) -> tensor_pb2.FeatureType | None:
    """The FeatureType for an inferred tensor, or None when too little is known to write one."""
    if info is None or info.dims is None:
        return None
    feature_type = tensor_pb2.FeatureType()
    if info.dtype == STRING:
        feature_type.string_type.SetInParent()
        return feature_type
    feature_type.tensor.dtype = info.dtype or tensor_pb2.FLOAT32  # type: ignore[assignment]  # enum values are ints
    set_dims(feature_type.tensor, info.dims)
    return feature_type


def refresh_output_types(model: model_pb2.Model, shapes: dict[str, TensorInfo]) -> None:
    """Rewrite each declared output's type from the network, keeping names and descriptions."""
    label = model.classifier.predicted_feature_name if model.HasField("classifier") else ""
    for feature in model.description.outputs:
        if label and feature.name == label:
            feature.type.CopyFrom(label_feature_type(model))
            continue
        feature_type = tensor_feature_type(shapes.get(feature.name))
        if feature_type is not None:
            _keep_declared_dims(feature_type, feature.type)
            feature.type.CopyFrom(feature_type)


def _keep_declared_dims(inferred: tensor_pb2.FeatureType, declared: tensor_pb2.FeatureType) -> None:
    """Where inference leaves a dimension open, keep what the spec declared for it."""
    if declared.WhichOneof("kind") != "tensor" or len(declared.tensor.shape) != len(inferred.tensor.shape):
        return
    for mine, theirs in zip(inferred.tensor.shape, declared.tensor.shape, strict=True):
        if mine.WhichOneof("value") is None:
            mine.CopyFrom(theirs)


def set_output_names(model: model_pb2.Model, names: Sequence[str]) -> None:
    """Make the declared outputs exactly `names`, keeping what was declared for those that stay."""
    old = {feature.name: tensor_pb2.FeatureDescription() for feature in model.description.outputs}
    for feature in model.description.outputs:
        old[feature.name].CopyFrom(feature)
    del model.description.outputs[:]
    for name in names:
        model.description.outputs.add().CopyFrom(old.get(name, tensor_pb2.FeatureDescription(name=name)))


def set_labels(model: model_pb2.Model, labels: Labels) -> None:
    values: list[str | int] = list(labels)
    info = model.classifier
    if values and all(isinstance(v, str) for v in values):
        info.string_labels.values[:] = [str(v) for v in values]
    else:
        info.int64_labels.values[:] = [int(v) for v in values if not isinstance(v, str)]


def placeholder_labels(existing: Labels, count: int) -> list[str] | list[int]:
    """`count` new labels: user0, user1, ... skipping names in use; the next ints for int labels."""
    if existing and not isinstance(existing[0], str):
        start = max(int(v) for v in existing) + 1
        return list(range(start, start + count))
    taken = set(existing)
    names: list[str] = []
    index = 0
    while len(names) < count:
        candidate = f"user{index}"
        if candidate not in taken:
            names.append(candidate)
        index += 1
    return names
