"""Activation gradients at their boundaries follow PyTorch, on both backends.

The formulas below are torch 2.13's CPU backward kernels written in numpy (measured side by side
on the boundary values: relu'(0) = 0, leaky_relu'(0) = alpha, elu'(0) = alpha, hardswish' = 0
at -3 and 1 at 3, hardsigmoid' strictly inside its ramp, and GELU's tanh form trains with the
tanh approximation's own derivative). Pre-activations hit the boundaries exactly: the layer
before the activation is an identity dense layer, so d loss / d bias is the activation's
derivative times the MSE gradient.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from mlspec._proto import layers_pb2, model_pb2
from mlspec.backends import to_training_artifacts
from mlspec.backends.ort_training.session import TrainingSession
from mlspec.reference import evaluate
from tests.backends.portable.networks import portable_gradients
from tests.convert.test_graph_rewrite_gradients import trainable_model
from tests.support.optim_reference import mse_gradient
from tests.support.specs import layer

Kind = layers_pb2.ActivationLayer.ActivationType
BOUNDARIES = np.array(
    [[0.0, -3.0, 3.0, 1.9], [-1e-3, 1e-3, -2.5, 0.7], [-0.5, 2.0, -3.5, 3.5]], dtype=np.float32
)


def _gelu_tanh_derivative(x: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
    k, c = math.sqrt(2 / math.pi), 0.044715
    t = np.tanh(k * (x + c * x**3))
    derivative: npt.NDArray[np.float64] = 0.5 * (1 + t) + 0.5 * x * (1 - t**2) * k * (1 + 3 * c * x**2)
    return derivative


Derivative = Callable[[npt.NDArray[np.float64]], npt.NDArray[np.float64]]
Settings = layers_pb2.ActivationLayer  # the kind's settings besides its type
DERIVATIVES: dict[str, tuple[Settings, Derivative]] = {
    "RELU": (Settings(), lambda x: (x > 0).astype(np.float64)),
    "LEAKY_RELU": (Settings(alpha=0.2), lambda x: np.where(x > 0, 1.0, 0.2)),
    "ELU": (Settings(alpha=1.0), lambda x: np.where(x > 0, 1.0, np.exp(np.minimum(x, 0)))),
    "ELU_HALF": (Settings(alpha=0.5), lambda x: np.where(x > 0, 1.0, 0.5 * np.exp(np.minimum(x, 0)))),
    "HARD_SWISH": (Settings(), lambda x: np.where(x <= -3, 0.0, np.where(x >= 3, 1.0, x / 3 + 0.5))),
    "HARD_SIGMOID": (
        Settings(alpha=1 / 6, beta=0.5),
        lambda x: np.where((x > -3) & (x < 3), 1 / 6, 0.0),
    ),
    "GELU_TANH": (Settings(approximate_tanh=True), _gelu_tanh_derivative),
}


def _case(name: str) -> tuple[model_pb2.Model, dict[str, np.ndarray], np.ndarray]:
    settings, derivative = DERIVATIVES[name]
    kind = name.removesuffix("_HALF").removesuffix("_TANH")
    fc = layer(
        "inner_product",
        "fc",
        ["x"],
        updatable=True,
        weights=np.eye(4, dtype=np.float32),
        bias=np.zeros(4, np.float32),
        input_channels=4,
        output_channels=4,
        has_bias=True,
    )
    act = layer("activation", "act", ["fc"], type=Kind.Value(kind))
    act.activation.MergeFrom(settings)
    spec = trainable_model([fc, act], [4], [4])
    target = np.random.default_rng(1).normal(size=BOUNDARIES.shape).astype(np.float32)
    feeds = {"x": BOUNDARIES, "act_target": target}
    return spec, feeds, derivative(BOUNDARIES.astype(np.float64)) * target


def _expected_bias_gradient(
    spec: model_pb2.Model, feeds: dict[str, np.ndarray], slope_times_target: np.ndarray, output: np.ndarray
) -> np.ndarray:
    slope = slope_times_target / feeds["act_target"]
    gradient: np.ndarray = (slope * mse_gradient(output, feeds["act_target"])).sum(axis=0)
    return gradient


def _activation_output(name: str) -> np.ndarray:
    spec, feeds, _ = _case(name)
    return evaluate(spec, {"x": feeds["x"]}, dtype=np.float64, outputs=["act"])["act"]


@pytest.mark.parametrize("name", sorted(DERIVATIVES))
def test_ort_training_backend_follows_pytorch_at_boundaries(name: str, tmp_path: Path) -> None:
    spec, feeds, weighted = _case(name)
    to_training_artifacts(spec, tmp_path / "artifacts")
    session = TrainingSession(tmp_path / "artifacts")
    session.learning_rate = 0.0
    session.train_step(feeds)
    expected = _expected_bias_gradient(spec, feeds, weighted, _activation_output(name))
    np.testing.assert_allclose(session.gradients()["fc.bias"], expected, rtol=1e-5, atol=1e-7)


@pytest.mark.parametrize("name", sorted(DERIVATIVES))
def test_portable_backend_follows_pytorch_at_boundaries(name: str) -> None:
    spec, feeds, weighted = _case(name)
    _, gradients, _ = portable_gradients(spec, feeds)
    expected = _expected_bias_gradient(spec, feeds, weighted, _activation_output(name))
    np.testing.assert_allclose(gradients["fc.bias"], expected, rtol=1e-5, atol=1e-7)
