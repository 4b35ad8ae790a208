"""The exported k-NN ONNX model against scikit-learn's KNeighborsClassifier on the full digits set.

Digits are small integers, so every squared distance is exact in float32 and ties between
neighbours are real and frequent: the tie rules are what these tests check. The stored examples
are the even-numbered digits (or all of them, so that every query has a neighbour at distance 0),
the queries the odd-numbered ones (or all).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from sklearn.datasets import load_digits
from sklearn.neighbors import KNeighborsClassifier

from mlspec._proto import model_pb2
from mlspec.backends.inference import run_inference
from mlspec.builder.knn import KnnClassifier
from mlspec.convert import to_onnx
from mlspec.reference import knn as reference

DIGITS_X, DIGITS_Y = load_digits(return_X_y=True)
SKLEARN_WEIGHTS = {"uniform": "uniform", "inverse_distance": "distance"}


def _split(which: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stored examples (reversed, so labels arrive as 9, 8, ... and the label set is unsorted),
    their labels, and the queries."""
    if which == "all":
        return DIGITS_X[::-1], DIGITS_Y[::-1], DIGITS_X
    return DIGITS_X[::2][::-1], DIGITS_Y[::2][::-1], DIGITS_X[1::2]


def _model(
    stored: np.ndarray, labels: np.ndarray, *, k: int, distance: str, weighting: str, strings: bool
) -> model_pb2.Model:
    builder = KnnClassifier.new(
        dimensions=64,
        label_kind="string" if strings else "int64",
        default_label="none" if strings else -1,
        k=k,
        k_allowed=(1, 20),
        distance=distance,
        weighting=weighting,
    )
    # Two adds, in an order that puts the label set out of sorted order: the tie rule, not the
    # order labels arrived in, must decide.
    builder.add_examples(stored[:50], labels[:50])
    builder.add_examples(stored[50:], labels[50:])
    assert builder.labels != sorted(builder.labels)
    return builder.spec


@pytest.mark.parametrize(
    ("split", "distance", "weighting"),
    [
        *[("half", d, w) for d in ("euclidean", "cosine") for w in ("uniform", "inverse_distance")],
        # Every query is also stored: inverse-distance weighting meets distance 0. (Cosine puts a
        # digit about 1e-7 from itself in float32, so only Euclidean is exact there.)
        ("all", "euclidean", "uniform"),
        ("all", "euclidean", "inverse_distance"),
    ],
)
def test_export_equals_sklearn_on_every_digit(split: str, distance: str, weighting: str) -> None:
    stored, labels, queries = _split(split)
    strings = weighting == "uniform"  # both label kinds, across the grid
    named = np.array([f"digit{v}" for v in labels]) if strings else labels
    for k in (1, 2, 4, 7, 10):
        model = _model(stored, named, k=k, distance=distance, weighting=weighting, strings=strings)
        out = run_inference(to_onnx(model).SerializeToString(), {"features": queries.astype(np.float32)})
        sk = KNeighborsClassifier(
            n_neighbors=k, metric=distance, weights=SKLEARN_WEIGHTS[weighting], algorithm="brute"
        ).fit(stored, named)
        expected = sk.predict(queries)
        assert (out["label"] == expected).all(), (k, np.flatnonzero(out["label"] != expected)[:5])
        # Probabilities in the model's label order, compared in scikit-learn's sorted order,
        # where the k nearest are one set (no tie at the k-th distance; see the test below).
        order = np.argsort(
            np.array(model.classifier.string_labels.values or model.classifier.int64_labels.values)
        )
        settled = ~_tied_at_kth(stored, queries, k, distance)
        assert settled.mean() > 0.8
        np.testing.assert_allclose(
            out["probabilities"][settled][:, order],
            sk.predict_proba(queries[settled]),
            atol=1e-6,
        )
        ties = _vote_ties(stored, labels, queries, k, distance=distance, weighting=weighting)
        if k == 4 and weighting == "uniform":
            assert ties > 0  # the vote tie rule really was exercised


def _tied_at_kth(stored: np.ndarray, queries: np.ndarray, k: int, distance: str) -> npt.NDArray[np.bool_]:
    kind = 0 if distance == "euclidean" else 1
    d = np.sort(reference.distances(kind, queries.astype(np.float32), stored.astype(np.float32)), axis=1)
    tied: npt.NDArray[np.bool_] = d[:, k - 1] == d[:, k]
    return tied


def _vote_ties(
    stored: np.ndarray, labels: np.ndarray, queries: np.ndarray, k: int, *, distance: str, weighting: str
) -> int:
    """How many queries end in a tied vote (so the tie rule decided them)."""
    d = reference.distances(
        0 if distance == "euclidean" else 1, queries.astype(np.float32), stored.astype(np.float32)
    )
    nearest = np.argsort(d, axis=1, kind="stable")[:, :k]
    near = np.take_along_axis(d, nearest, 1).astype(np.float64)
    weights = reference.vote_weights(0 if weighting == "uniform" else 1, np.sqrt(near))
    votes = np.zeros((len(queries), 10))
    for column in range(k):
        votes[np.arange(len(queries)), labels[nearest[:, column]]] += weights[:, column]
    best = votes.max(axis=1, keepdims=True)
    return int(((votes == best).sum(axis=1) > 1).sum())


def test_where_sklearn_differs_it_is_its_heap_at_a_tied_kth_distance() -> None:
    """k=15 on the even/odd split: scikit-learn's brute-force ArgKmin keeps the k nearest in a
    max-heap, so which of several examples tied at the k-th distance it keeps depends on the heap's
    history; mlspec keeps the earlier stored one (ONNX TopK's documented rule). scikit-learn's own
    documentation warns that such ties depend on the training data's order. Every disagreement must
    be such a tie, and there must be few."""
    stored, labels, queries = _split("half")
    model = _model(stored, labels, k=15, distance="euclidean", weighting="uniform", strings=False)
    out = run_inference(to_onnx(model).SerializeToString(), {"features": queries.astype(np.float32)})
    sk = KNeighborsClassifier(n_neighbors=15, algorithm="brute").fit(stored, labels)
    differ = np.flatnonzero(out["label"] != sk.predict(queries))
    assert 0 < differ.size <= 5
    squared = ((queries[differ, None, :] - stored[None]) ** 2).sum(-1)
    ordered = np.sort(squared, axis=1)
    assert (ordered[:, 14] == ordered[:, 15]).all()
    _, theirs = sk.kneighbors(queries[differ])
    ours = np.argsort(squared, axis=1, kind="stable")[:, :15]
    for row, mine, sklearns in zip(squared, ours, theirs, strict=True):
        assert set(mine) != set(sklearns)
        # The same distances, so the two sets differ only in which tied examples they hold.
        assert sorted(row[mine]) == sorted(row[sklearns])
