"""A numpy k-NN prediction: the yardstick the ONNX export is tested against.

It follows the rules written in proto/mlspec/v1/knn.proto step by step, with the same
arithmetic as the export (float32 distances, float64 votes summed neighbour by neighbour), so the
two agree exactly; scikit-learn is the independent check of the rules themselves.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import numpy.typing as npt

from mlspec._proto import knn_pb2, model_pb2
from mlspec.reference.evaluate import evaluate
from mlspec.spec import knn as spec_knn
from mlspec.spec.errors import MlspecError


def features(model: model_pb2.Model, feeds: Mapping[str, npt.ArrayLike]) -> npt.NDArray[np.float32]:
    """The vectors the examples are compared with: the extractor's output, or the input itself."""
    extractor = spec_knn.extractor_model(model)
    name = model.knn_classifier.feature_name
    if extractor is None:
        if name not in feeds:
            raise MlspecError(f"feeds have no {name!r}; this k-NN model compares input {name!r}")
        return np.asarray(feeds[name], np.float32)
    return np.asarray(evaluate(extractor, feeds, outputs=[name])[name], np.float32)


def predict(
    model: model_pb2.Model, vectors: npt.ArrayLike, *, k: int | None = None
) -> tuple[npt.NDArray[np.generic], npt.NDArray[np.float64]]:
    """Labels [N] and probabilities [N, labels] (label-set order) for feature vectors [N, dims]."""
    knn = model.knn_classifier
    queries = np.asarray(vectors, np.float32)
    labels = spec_knn.label_values(model)
    table = np.array(labels, dtype=object if spec_knn.has_string_labels(model) else np.int64)
    stored = spec_knn.examples(model)
    if stored.shape[0] == 0:
        default = spec_knn.default_label(model)
        return np.full(len(queries), default, dtype=table.dtype), np.zeros((len(queries), len(labels)))
    count = min(k or knn.number_of_neighbors.default_value, stored.shape[0])
    distance = distances(knn.distance, queries, stored)
    nearest = np.argsort(distance, axis=1, kind="stable")[:, :count]
    near = np.take_along_axis(distance, nearest, axis=1).astype(np.float64)
    if knn.distance == knn_pb2.KNN_DISTANCE_EUCLIDEAN:
        near = np.sqrt(near)
    weights = vote_weights(knn.weighting, near)
    order = spec_knn.vote_order(model)
    position = np.empty(len(labels), np.int64)
    position[order] = np.arange(len(labels))
    voters = position[spec_knn.example_labels(model)[nearest]]
    votes = np.zeros((len(queries), len(labels)))
    rows = np.arange(len(queries))
    for column in range(count):
        votes[rows, voters[:, column]] += weights[:, column]
    votes /= votes.sum(axis=1, keepdims=True)
    winner = np.asarray(order)[votes.argmax(axis=1)]
    return table[winner], votes[:, position]


def distances(
    kind: int, queries: npt.NDArray[np.float32], stored: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """Squared Euclidean or cosine distances [N, count], computed as the ONNX export does."""
    if kind == knn_pb2.KNN_DISTANCE_COSINE:
        similarity: npt.NDArray[np.float32] = unit_rows(queries) @ unit_rows(stored).T
        clipped: npt.NDArray[np.float32] = np.clip(np.float32(1) - similarity, np.float32(0), np.float32(2))
        return clipped
    query_norms = (queries * queries).sum(axis=1, keepdims=True)
    stored_norms = (stored * stored).sum(axis=1)[None]
    cross: npt.NDArray[np.float32] = queries @ (np.float32(-2) * stored.T)
    total: npt.NDArray[np.float32] = query_norms + cross + stored_norms
    return np.maximum(total, np.float32(0))


def unit_rows(vectors: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Rows scaled to length 1; an all-zero row stays zero (cosine distance 1 to everything)."""
    norms = np.sqrt((vectors * vectors).sum(axis=1, keepdims=True))
    return (vectors / np.where(norms == 0, np.float32(1), norms)).astype(np.float32, copy=False)


def vote_weights(kind: int, near: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    """Uniform ones, or 1/distance with exact matches taking every vote of their row."""
    if kind == knn_pb2.KNN_WEIGHTING_UNIFORM:
        return np.ones_like(near)
    with np.errstate(divide="ignore"):
        weights = 1.0 / near
    exact = np.isinf(weights)
    rows = exact.any(axis=1)
    weights[rows] = exact[rows]
    return weights
