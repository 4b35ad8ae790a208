"""The k-NN classifier model kind: reading its parts and checking them.

A k-NN model is a Model whose `knn_classifier` is set. Its `network`, when it has layers, is a
frozen feature extractor; `extractor_model` turns it into an ordinary network spec (the model's
inputs, one output: the feature tensor), so validation, the reference evaluator and the ONNX
converter treat the extractor like any other network instead of learning a second model kind.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from mlspec._proto import knn_pb2, model_pb2, tensor_pb2
from mlspec.spec.errors import MlspecError
from mlspec.spec.io import SPEC_VERSION
from mlspec.spec.tensor_info import BATCH, set_dims
from mlspec.spec.weights import checked_raw_data

KNN = "knn_classifier"
Label = str | int
Labels = list[Label]

DISTANCES = {"euclidean": knn_pb2.KNN_DISTANCE_EUCLIDEAN, "cosine": knn_pb2.KNN_DISTANCE_COSINE}
WEIGHTINGS = {
    "uniform": knn_pb2.KNN_WEIGHTING_UNIFORM,
    "inverse_distance": knn_pb2.KNN_WEIGHTING_INVERSE_DISTANCE,
}
VOTE_TIES = {
    "smallest_label": knn_pb2.KNN_VOTE_TIE_SMALLEST_LABEL,
    "first_label": knn_pb2.KNN_VOTE_TIE_FIRST_LABEL,
}


def is_knn(model: model_pb2.Model) -> bool:
    return model.HasField(KNN)


def enum_name(table: Mapping[str, int], value: int) -> str:
    for name, code in table.items():
        if code == value:
            return name
    return str(value)


def label_values(model: model_pb2.Model) -> Labels:
    """The label set, in stored order (string or int64, per ClassifierInfo)."""
    which = model.classifier.WhichOneof("labels")
    if which == "string_labels":
        return [str(v) for v in model.classifier.string_labels.values]
    if which == "int64_labels":
        return [int(v) for v in model.classifier.int64_labels.values]
    return []


def has_string_labels(model: model_pb2.Model) -> bool:
    return bool(model.classifier.WhichOneof("labels") == "string_labels")


def default_label(model: model_pb2.Model) -> Label | None:
    knn = model.knn_classifier
    which = knn.WhichOneof("default_label")
    if which is None:
        return None
    return knn.default_string_label if which == "default_string_label" else int(knn.default_int64_label)


def vote_order(model: model_pb2.Model) -> list[int]:
    """Label indices in the order that wins a tied vote (first wins)."""
    labels = label_values(model)
    if model.knn_classifier.vote_tie == knn_pb2.KNN_VOTE_TIE_FIRST_LABEL:
        return list(range(len(labels)))
    return sorted(range(len(labels)), key=lambda i: labels[i])


def example_count(model: model_pb2.Model) -> int:
    shape = model.knn_classifier.examples.shape
    return int(shape[0]) if shape else 0


def examples(model: model_pb2.Model) -> npt.NDArray[np.float32]:
    """The stored examples, float32 [count, dimensions], read-only over the spec's bytes."""
    knn = model.knn_classifier
    if not knn.examples.shape:
        return np.zeros((0, knn.dimensions), np.float32)
    data = checked_raw_data(knn.examples, f"{KNN}.examples")
    return np.frombuffer(data, np.float32).reshape(tuple(knn.examples.shape))


def example_labels(model: model_pb2.Model) -> npt.NDArray[np.int32]:
    """Each stored example's index into the label set, int32 [count], read-only."""
    tensor = model.knn_classifier.example_labels
    if not tensor.shape:
        return np.zeros(0, np.int32)
    data = checked_raw_data(tensor, f"{KNN}.example_labels")
    return np.frombuffer(data, np.int32).reshape(tuple(tensor.shape))


def extractor_model(model: model_pb2.Model) -> model_pb2.Model | None:
    """The feature extractor as a plain network spec with one output, or None if there is none."""
    if not model.network.layers:
        return None
    knn = model.knn_classifier
    extractor = model_pb2.Model(spec_version=SPEC_VERSION)
    extractor.description.inputs.extend(model.description.inputs)
    output = extractor.description.outputs.add(name=knn.feature_name)
    output.type.tensor.dtype = tensor_pb2.FLOAT32
    set_dims(output.type.tensor, [BATCH, int(knn.dimensions)])
    extractor.network.CopyFrom(model.network)
    return extractor


def require_knn(model: model_pb2.Model, what: str) -> None:
    if not is_knn(model):
        raise MlspecError(f"{what} needs a k-NN classifier spec (knn_classifier is not set)")
