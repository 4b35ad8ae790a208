"""Whole training graphs: the portable gradients equal the onnxruntime-training backend's.

Each case of tests/convert/test_gradients.py (every loss kind, every updatable layer kind, the
merge paths Core ML cannot backpropagate through) runs on both backends from the same spec and
weights; loss and every gradient must agree to 1e-5 relative (float32 on both sides).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlspec.backends import to_training_artifacts
from mlspec.backends.ort_training.session import TrainingSession
from mlspec.backends.portable.autodiff import DIFFERENTIABLE_OPS
from tests.backends.portable.networks import portable_gradients
from tests.convert.test_gradients import KIND_CASES, LOSS_FORMULAS, Case, _dense_head


def _compare(case: Case, tmp_path: Path) -> None:
    to_training_artifacts(case.spec, tmp_path / "artifacts")
    session = TrainingSession(tmp_path / "artifacts")
    session.learning_rate = 0.0
    ort_loss = session.train_step(case.feeds)
    expected = session.gradients()
    loss, actual, model = portable_gradients(case.spec, case.feeds)
    assert {node.op_type for node in model.graph.node} - {"Constant"} <= DIFFERENTIABLE_OPS | {
        "Greater",
        "Cast",
        "Shape",
        "ConstantOfShape",
    }
    assert loss == pytest.approx(ort_loss, rel=1e-5)
    assert set(actual) == set(expected)
    for name, value in expected.items():
        scale = max(float(np.max(np.abs(value))), 1e-6)
        assert np.max(np.abs(actual[name] - value)) <= 1e-5 * scale, f"{name}: {actual[name]} vs {value}"


@pytest.mark.parametrize("loss", [*LOSS_FORMULAS, "ce_column_labels", "weighted_sum"])
def test_losses_match_ort_training(tmp_path: Path, loss: str) -> None:
    _compare(_dense_head(loss), tmp_path)


@pytest.mark.parametrize("kind", ["concat_add_reshape", "embedding"])
def test_layer_kinds_match_ort_training(tmp_path: Path, kind: str) -> None:
    _compare(KIND_CASES[kind](), tmp_path)
