"""`mlspec demo`: the whole flow runs, and what it leaves behind is usable on its own."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime
import pytest
from typer.testing import CliRunner

from mlspec import find_problems, load
from mlspec.cli import app
from mlspec.spec import graph

RUNNER = CliRunner()


def test_demo_writes_a_valid_trained_spec(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    started = time.perf_counter()
    result = RUNNER.invoke(app, ["demo", "--out", str(out)])
    elapsed = time.perf_counter() - started
    assert result.exit_code == 0, result.output
    assert elapsed < 60
    for step in range(1, 8):
        assert f"\n{step}. " in result.output
    assert "epoch  train loss    val loss   val acc" in result.output
    assert {p.name for p in out.iterdir()} == {
        "updatable.mlspec",
        "artifacts",
        "train.npz",
        "val.npz",
        "updated.mlspec",
        "updated.onnx",
    }
    updated = load(out / "updated.mlspec")
    assert find_problems(updated) == []
    assert graph.class_labels(updated) == ["0", "1", "2", "user0", "user1"]
    original = load(out / "updatable.mlspec")
    assert original.network.layers[0].convolution.weights != updated.network.layers[0].convolution.weights

    # The exported model, run by plain onnxruntime, classifies the validation drawings.
    session = onnxruntime.InferenceSession(str(out / "updated.onnx"), providers=["CPUExecutionProvider"])
    with np.load(out / "val.npz", allow_pickle=False) as val:
        images, labels = val["image"], val["label"]
    (predicted,) = session.run(["label"], {"image": images})
    accuracy = float(np.mean(np.asarray(predicted).astype(str) == labels))
    assert accuracy >= 0.9
    assert f"-> {accuracy:.1%}" in result.output


def test_demo_defaults_to_a_fresh_temporary_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    result = RUNNER.invoke(app, ["demo", "--epochs", "1"])
    assert result.exit_code == 0, result.output
    (made,) = list(tmp_path.iterdir())
    assert made.name.startswith("mlspec-demo-")
    assert f"writing into {made}" in result.output
    assert (made / "updated.mlspec").is_file()


def test_demo_refuses_a_directory_with_files(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    result = RUNNER.invoke(app, ["demo", "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert "is not empty" in result.output
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
