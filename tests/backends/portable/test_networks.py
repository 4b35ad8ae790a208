"""Whole training graphs: the portable gradients equal the onnxruntime-training backend's.

Each case of tests/convert/test_gradients.py (every loss kind, every updatable layer kind, the
merge paths Core ML cannot backpropagate through) runs on both backends from the same spec and
weights; loss and every gradient must agree to 1e-5 relative (float32 on both sides).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlspec._proto import model_pb2
from mlspec.backends import to_training_artifacts
from mlspec.backends.ort_training.session import TrainingSession
from mlspec.backends.portable.autodiff import DIFFERENTIABLE_OPS
from tests.backends.portable.networks import portable_gradients
from tests.convert.test_gradients import KIND_CASES, LOSS_FORMULAS, Case, _dense_head
from tests.convert.test_graph_rewrite_gradients import (
    PLAIN_PATHS,
    WEIGHT_SCALES,
    Activation,
    dense,
    trainable_model,
)
from tests.convert.test_training import _bnns_cnn
from tests.support.specs import layer


def _compare(case: Case, tmp_path: Path) -> None:
    _compare_spec(case.spec, case.feeds, tmp_path)


def _compare_spec(spec: model_pb2.Model, feeds: dict[str, np.ndarray], tmp_path: Path) -> None:
    to_training_artifacts(spec, tmp_path / "artifacts")
    session = TrainingSession(tmp_path / "artifacts")
    session.learning_rate = 0.0
    ort_loss = session.train_step(feeds)
    expected = session.gradients()
    loss, actual, model = portable_gradients(spec, feeds)
    # Every op build_graph emits is differentiable, or only computes masks, shapes and constants.
    no_gradient = {"Constant", "Greater", "Less", "Cast", "Shape", "Size", "ConstantOfShape"}
    assert {node.op_type for node in model.graph.node} <= DIFFERENTIABLE_OPS | no_gradient
    assert loss == pytest.approx(ort_loss, rel=1e-5)
    assert set(actual) == set(expected)
    # 1e-5 relative to each tensor's largest gradient, or to 1e-2 for a tensor whose gradient is
    # zero in exact arithmetic (a conv bias before batch norm), where both sides hold only rounding.
    for name, value in expected.items():
        scale = max(float(np.max(np.abs(value))), 1e-2)
        assert np.max(np.abs(actual[name] - value)) <= 1e-5 * scale, f"{name}: {actual[name]} vs {value}"


@pytest.mark.parametrize("loss", [*LOSS_FORMULAS, "ce_column_labels", "weighted_sum"])
def test_losses_match_ort_training(tmp_path: Path, loss: str) -> None:
    _compare(_dense_head(loss), tmp_path)


@pytest.mark.parametrize("kind", sorted(KIND_CASES))
def test_layer_kinds_match_ort_training(tmp_path: Path, kind: str) -> None:
    _compare(KIND_CASES[kind](), tmp_path)


@pytest.mark.parametrize("case", sorted(PLAIN_PATHS) + sorted(WEIGHT_SCALES))
def test_training_path_kinds_match_ort_training(case: str, tmp_path: Path) -> None:
    """Every activation (plain and rewritten form), pooling, layer norm, multiply, transpose."""
    rng = np.random.default_rng(len(case))
    if case in WEIGHT_SCALES:
        act = layer(
            "activation", "act", ["fc"], type=Activation.ActivationType.Value(case), alpha=0.3, beta=0.45
        )
        layers, input_dims, output_dims = [dense(rng, 3, 4, scale=WEIGHT_SCALES[case]), act], [3], [4]
    else:
        layers, input_dims, output_dims = PLAIN_PATHS[case](rng)
    spec = trainable_model(layers, input_dims, output_dims)
    output = layers[-1].outputs[0]
    feeds = {
        "x": rng.normal(size=(4, *input_dims)).astype(np.float32),
        f"{output}_target": rng.normal(size=(4, *output_dims)).astype(np.float32),
    }
    _compare_spec(spec, feeds, tmp_path)


def test_bnns_style_cnn_matches_ort_training(tmp_path: Path) -> None:
    """conv (same padding) -> batch norm -> ReLU moved behind max pool -> dense -> softmax + CE."""
    rng = np.random.default_rng(3)
    feeds: dict[str, np.ndarray] = {
        "image": rng.normal(size=(5, 1, 8, 8)).astype(np.float32),
        "label": rng.integers(0, 2, size=5),
    }
    _compare_spec(_bnns_cnn(), feeds, tmp_path)
