"""Non-finite values are errors, never written (issue 16, and issue 14's item 4).

Findings: NaN or Inf in data, a NaN weight, or a diverging run trained to a NaN model, wrote it,
exited 0, and `validate` called the result valid.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlspec.runtime import DataError, Trainer
from mlspec.runtime.loop import DivergedError
from mlspec.spec.graph import find_layer
from mlspec.spec.io import load, save
from mlspec.spec.validate import find_problems
from mlspec.spec.weights import set_tensor, to_numpy
from tests.cli.subprocesses import error_lines, mlspec
from tests.runtime.models import blobs, classifier

X, Y = blobs(16)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_data_is_refused_before_training_naming_the_file_array_and_row(
    tmp_path: Path, bad: float
) -> None:
    x = X.copy()
    x[11, 2] = bad
    path = tmp_path / "train.npz"
    np.savez(path, x=x, label=Y)
    with (
        Trainer.from_spec(classifier()) as trainer,
        pytest.raises(
            DataError, match=r"train\.npz: 'x' row 11 holds (nan|inf|-inf); features must be finite"
        ),
    ):
        trainer.train(path)


def test_float64_data_past_float32_range_is_refused() -> None:
    x = X.astype(np.float64)
    x[3, 0] = 1e300
    with (
        Trainer.from_spec(classifier()) as trainer,
        pytest.raises(DataError, match=r"row 3 .*too large for float32"),
    ):
        trainer.train({"x": x, "label": Y})


def test_nan_weight_is_a_validation_problem() -> None:
    model = classifier()
    fc = find_layer(model, "fc").inner_product
    weights = to_numpy(fc.weights).copy()
    weights[1, 2] = np.nan
    set_tensor(fc.weights, weights, is_updatable=True)
    problems = [str(p) for p in find_problems(model)]
    assert any('layers["fc"].weights: value 6 is nan (1 non-finite in all)' in p for p in problems), problems


def _diverging(tmp_path: Path) -> Path:
    """Weights near float32's limit: the first logits overflow, so the first loss is not finite."""
    model = classifier()
    fc = find_layer(model, "fc").inner_product
    set_tensor(fc.weights, np.full((3, 4), 3e38, dtype=np.float32), is_updatable=True)
    path = tmp_path / "diverging.mlspec"
    save(model, path)
    return path


def test_a_diverging_run_stops_naming_epoch_and_batch_and_writes_nothing(tmp_path: Path) -> None:
    spec = _diverging(tmp_path)
    assert find_problems(load(spec)) == []  # finite weights: valid, yet training cannot go on
    np.savez(tmp_path / "train.npz", x=X, label=Y)
    done = mlspec(
        "train", spec, "--data", "train.npz", "-o", "out.mlspec", "--checkpoint-dir", "ckpt", cwd=tmp_path
    )
    assert done.returncode == 1
    (line,) = error_lines(done.stderr)
    assert line.startswith("error: training diverged: the loss is ") and "at epoch 1, batch 1" in line
    assert not (tmp_path / "out.mlspec").exists()
    assert not list((tmp_path / "ckpt").rglob("*.ckpt"))
    with Trainer.from_spec(spec) as trainer, pytest.raises(DivergedError, match="epoch 1, batch 1"):
        trainer.train((X, Y))
