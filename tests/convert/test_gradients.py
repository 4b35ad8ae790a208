"""Gradients from the training artifacts equal float64 central differences of the numpy reference.

The reference forward pass (mlspec.reference.evaluate in float64 with overridden weights) plus
the loss formulas below, written from their definitions, give the loss as a function of each
trainable tensor; ORT's gradient after one step at learning rate 0 must match its numerical
derivative to 1e-3 relative.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from mlspec._proto import layers_pb2, model_pb2, tensor_pb2
from mlspec.backends import to_training_artifacts
from mlspec.backends.ort_training.session import TrainingSession
from mlspec.reference import evaluate
from tests.support.specs import SpecMaker, merge_paths

TANH = layers_pb2.ActivationLayer.TANH
SIGMOID = layers_pb2.ActivationLayer.SIGMOID
BATCH = 3
Feeds = dict[str, np.ndarray]


def _log_softmax(z: np.ndarray) -> np.ndarray:
    shifted = z - z.max(axis=-1, keepdims=True)
    log_probabilities: np.ndarray = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
    return log_probabilities


def _pick(values: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return np.take_along_axis(values, labels[..., None].astype(np.int64), axis=-1)[..., 0]


LOSS_FORMULAS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "ce_probabilities": lambda p, y: float(-np.mean(np.log(_pick(p, y)))),
    "ce_logits": lambda z, y: float(-np.mean(_pick(_log_softmax(z), y.reshape(-1)))),
    "mse": lambda x, t: float(np.mean((x - t) ** 2)),
    "bce_probabilities": lambda p, t: float(-np.mean(t * np.log(p) + (1 - t) * np.log(1 - p))),
    "bce_logits": lambda z, t: float(np.mean(np.maximum(z, 0) - z * t + np.log1p(np.exp(-np.abs(z))))),
    "l1": lambda x, t: float(np.mean(np.abs(x - t))),
    "huber": lambda x, t: float(
        np.mean(np.where(np.abs(x - t) <= 0.5, 0.5 * (x - t) ** 2, 0.5 * (np.abs(x - t) - 0.25)))
    ),
}


class Case:
    """A spec, its feeds, and the reference loss as a function of the weights."""

    def __init__(self, spec: model_pb2.Model, feeds: Feeds, terms: list[tuple[str, str, str, float]]) -> None:
        self.spec = spec
        self.feeds = feeds
        self.terms = terms  # (formula, network tensor, feed holding the target, weight)

    def loss(self, overrides: dict[str, np.ndarray]) -> float:
        network = {k: v for k, v in self.feeds.items() if k in {f.name for f in self.spec.description.inputs}}
        values = evaluate(
            self.spec,
            network,
            training=True,
            dtype=np.float64,
            overrides=overrides,
            outputs=sorted({tensor for _, tensor, _, _ in self.terms}),
        )
        return sum(
            weight * LOSS_FORMULAS[formula](values[tensor].astype(np.float64), self.feeds[target])
            for formula, tensor, target, weight in self.terms
        )


def _dense_head(loss: str) -> Case:
    """x -> dense -> tanh -> dense -> (softmax | sigmoid) -> the loss under test."""
    rng = np.random.default_rng(11)
    maker = SpecMaker("dense_head", seed=5)
    maker.input("x", [3])
    maker.dense("fc1", "x", "h", (3, 4))
    maker.activation("tanh", "h", "h_tanh", TANH)
    maker.dense("fc2", "h_tanh", "z", (4, 3))
    x = rng.normal(size=(BATCH, 3)).astype(np.float32)
    labels = np.array([0, 2, 1], np.int64)
    soft_targets = rng.uniform(0.05, 0.95, size=(BATCH, 3)).astype(np.float32)
    dense_targets = rng.normal(size=(BATCH, 3)).astype(np.float32)
    if loss in ("ce_probabilities", "ce_logits"):
        maker.softmax("softmax", "z", "probs")
        maker.output("probs")
        maker.classifier([10, 20, 30], "probs")
        maker.target("y", kind="int64")
        tensor = "probs" if loss == "ce_probabilities" else "z"
        maker.loss(loss, "categorical_cross_entropy", tensor, "y", from_logits=loss == "ce_logits")
        return Case(maker.spec_with_sgd(), {"x": x, "y": labels}, [(loss, tensor, "y", 1.0)])
    if loss == "ce_column_labels":  # int64 targets shaped [batch, 1]
        maker.output("z")
        maker.target("y", [1], kind="int64")
        maker.loss(loss, "categorical_cross_entropy", "z", "y", from_logits=True)
        feeds: Feeds = {"x": x, "y": labels[:, None]}
        return Case(maker.spec_with_sgd(), feeds, [("ce_logits", "z", "y", 1.0)])
    if loss == "bce_probabilities":
        maker.activation("sigmoid", "z", "p", SIGMOID)
        maker.output("p")
        maker.target("t", [3])
        maker.loss(loss, "binary_cross_entropy", "p", "t")
        return Case(maker.spec_with_sgd(), {"x": x, "t": soft_targets}, [(loss, "p", "t", 1.0)])
    maker.output("z")
    maker.target("t", [3])
    if loss == "weighted_sum":
        maker.loss("mse", "mean_squared_error", "z", "t", weight=0.7)
        maker.loss("l1", "l1", "h", "u", weight=1.5)
        maker.target("u", [4])
        u = rng.normal(size=(BATCH, 4)).astype(np.float32)
        feeds = {"x": x, "t": dense_targets, "u": u}
        return Case(maker.spec_with_sgd(), feeds, [("mse", "z", "t", 0.7), ("l1", "h", "u", 1.5)])
    kind = {"mse": "mean_squared_error", "bce_logits": "binary_cross_entropy", "l1": "l1", "huber": "huber"}[
        loss
    ]
    options: dict[str, dict[str, float]] = {"bce_logits": {"from_logits": True}, "huber": {"delta": 0.5}}
    maker.loss(loss, kind, "z", "t", **options.get(loss, {}))
    targets = soft_targets if loss == "bce_logits" else dense_targets
    return Case(maker.spec_with_sgd(), {"x": x, "t": targets}, [(loss, "z", "t", 1.0)])


def _regression(build: Callable[[SpecMaker], str], inputs: Feeds, outputs: int) -> Case:
    maker = SpecMaker("kind", seed=9)
    last = build(maker)
    maker.output(last)
    maker.target("t", [outputs])
    maker.loss("mse", "mean_squared_error", last, "t")
    targets = np.random.default_rng(2).normal(size=(BATCH, outputs)).astype(np.float32)
    return Case(maker.spec_with_sgd(), {**inputs, "t": targets}, [("mse", last, "t", 1.0)])


def _conv1d(maker: SpecMaker) -> str:
    maker.input("x", [2, 6])
    maker.conv("conv", "x", "c", (2, 2), kernel=[3])
    maker.activation("tanh", "c", "c_tanh", TANH)
    maker.flatten("flat", "c_tanh", "f")
    maker.dense("fc", "f", "y", (8, 2), updatable=False)
    return "y"


def _conv2d(maker: SpecMaker) -> str:
    maker.input("x", [1, 4, 4])
    maker.conv("conv", "x", "c", (1, 2), kernel=[3, 3])
    maker.flatten("flat", "c", "f")
    maker.dense("fc", "f", "y", (8, 2), updatable=False)
    return "y"


def _batch_norm(maker: SpecMaker) -> str:
    maker.input("x", [2, 5])
    maker.batch_norm("bn", "x", "n", 2)
    maker.activation("tanh", "n", "n_tanh", TANH)
    maker.flatten("flat", "n_tanh", "f")
    maker.dense("fc", "f", "y", (10, 2), updatable=False)
    return "y"


def _layer_norm(maker: SpecMaker) -> str:
    maker.input("x", [4])
    maker.layer_norm("ln", "x", "n", 4)
    maker.dense("fc", "n", "y", (4, 2), updatable=False)
    return "y"


def _embedding(maker: SpecMaker) -> str:
    maker.input("ids", [3], dtype=tensor_pb2.INT64)
    maker.embedding("embed", "ids", "e", 5, 2)
    maker.flatten("flat", "e", "f")
    maker.dense("fc", "f", "y", (6, 2), updatable=False)
    return "y"


_X = np.random.default_rng(4)
KIND_CASES: dict[str, Callable[[], Case]] = {
    "conv1d": lambda: _regression(_conv1d, {"x": _X.normal(size=(BATCH, 2, 6)).astype(np.float32)}, 2),
    "conv2d": lambda: _regression(_conv2d, {"x": _X.normal(size=(BATCH, 1, 4, 4)).astype(np.float32)}, 2),
    "batch_norm": lambda: _regression(
        _batch_norm, {"x": _X.normal(size=(BATCH, 2, 5)).astype(np.float32)}, 2
    ),
    "layer_norm": lambda: _regression(_layer_norm, {"x": _X.normal(size=(BATCH, 4)).astype(np.float32)}, 2),
    "embedding": lambda: _regression(_embedding, {"ids": np.array([[0, 3, 4], [1, 1, 2], [4, 0, 3]])}, 2),
    "concat_add_reshape": lambda: _regression(
        lambda maker: merge_paths(maker, 2), {"x": _X.normal(size=(BATCH, 4)).astype(np.float32)}, 2
    ),
}


def _finite_differences(
    case: Case, weights: dict[str, np.ndarray], name: str, step: float = 1e-6
) -> np.ndarray:
    base = {key: value.astype(np.float64) for key, value in weights.items()}
    gradient = np.zeros_like(base[name])
    for index in np.ndindex(gradient.shape):
        original = base[name][index]
        base[name][index] = original + step
        upper = case.loss(base)
        base[name][index] = original - step
        lower = case.loss(base)
        base[name][index] = original
        gradient[index] = (upper - lower) / (2 * step)
    return gradient


def _check(case: Case, tmp_path: Path) -> None:
    to_training_artifacts(case.spec, tmp_path / "artifacts")
    session = TrainingSession(tmp_path / "artifacts")
    weights = session.parameters()
    session.learning_rate = 0.0
    loss = session.train_step(case.feeds)
    assert loss == pytest.approx(case.loss({k: v.astype(np.float64) for k, v in weights.items()}), rel=1e-5)
    gradients = session.gradients()
    assert gradients
    for name, actual in gradients.items():
        expected = _finite_differences(case, weights, name)
        scale = max(float(np.max(np.abs(expected))), 1e-8)
        assert np.max(np.abs(actual - expected)) <= 1e-3 * scale, f"{name}: {actual} vs {expected}"


@pytest.mark.parametrize("loss", [*LOSS_FORMULAS, "ce_column_labels", "weighted_sum"])
def test_loss_gradients_match_finite_differences(tmp_path: Path, loss: str) -> None:
    _check(_dense_head(loss), tmp_path)


@pytest.mark.parametrize("kind", sorted(KIND_CASES))
def test_updatable_kind_gradients_match_finite_differences(tmp_path: Path, kind: str) -> None:
    _check(KIND_CASES[kind](), tmp_path)
