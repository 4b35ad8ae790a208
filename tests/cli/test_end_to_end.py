"""The whole job through real `mlspec` processes: spec -> make-updatable -> validate -> convert ->
train -> inspect --json, judged by an independent evaluation of the specs it wrote."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from mlspec._proto import model_pb2
from mlspec.reference import evaluate
from mlspec.spec import kinds
from mlspec.spec.io import load
from tests.cli import specs
from tests.cli.subprocesses import error_lines, mlspec

ROW = re.compile(r"^\s*(\d+)\s+(\d+\.\d+)\s", re.MULTILINE)


def _cross_entropy(model: model_pb2.Model, x: np.ndarray, classes: np.ndarray) -> float:
    probabilities = evaluate(model, {"x": x})["probs"].astype(np.float64)
    return float(-np.mean(np.log(probabilities[np.arange(len(classes)), classes])))


def _without_weights(model: model_pb2.Model) -> model_pb2.Model:
    stripped = model_pb2.Model()
    stripped.CopyFrom(model)
    for layer in stripped.network.layers:
        for _, tensor in kinds.layer_tensors(layer):
            tensor.ClearField("raw_data")
    return stripped


def test_build_make_updatable_validate_convert_train_inspect(tmp_path: Path) -> None:
    specs.write(specs.classifier(), tmp_path / "classifier.mlspec")
    specs.write_blobs(tmp_path / "train.npz", 96, seed=1)
    specs.write_blobs(tmp_path / "val.npz", 30, seed=2, string_labels=False)

    made = mlspec(
        *("make-updatable", "classifier.mlspec", "-o", "updatable.mlspec", "--layers", "fc1,bn,fc2"),
        *(
            "--lr",
            "0.2",
            "--batch-size",
            "8",
            "--batch-sizes",
            "4,8,16",
            "--epochs",
            "4",
            "--epochs-range",
            "1:50",
        ),
        cwd=tmp_path,
    )
    assert made.returncode == 0, made.stderr
    checked = mlspec("validate", "updatable.mlspec", cwd=tmp_path)
    assert checked.returncode == 0 and checked.stdout.strip() == "updatable.mlspec: valid"
    converted = mlspec("convert", "updatable.mlspec", "-o", "artifacts", cwd=tmp_path)
    assert converted.returncode == 0, converted.stderr
    assert (tmp_path / "artifacts" / "training_model.onnx").is_file()
    before = specs.digest(tmp_path / "updatable.mlspec")
    trained_run = mlspec(
        "train",
        "updatable.mlspec",
        "--data",
        "train.npz",
        "--val",
        "val.npz",
        "-o",
        "trained.mlspec",
        cwd=tmp_path,
    )
    assert trained_run.returncode == 0, trained_run.stderr
    assert error_lines(trained_run.stderr) == []
    inspected = mlspec("inspect", "trained.mlspec", "--json", cwd=tmp_path)
    assert inspected.returncode == 0, inspected.stderr

    epoch_losses = [float(loss) for _, loss in ROW.findall(trained_run.stdout)]
    assert len(epoch_losses) == 4 and epoch_losses[-1] < epoch_losses[0]
    updatable, trained = load(tmp_path / "updatable.mlspec"), load(tmp_path / "trained.mlspec")
    assert specs.digest(tmp_path / "updatable.mlspec") == before
    x, classes = specs.blobs(96, seed=1)
    assert _cross_entropy(trained, x, classes) < 0.5 * _cross_entropy(updatable, x, classes)
    moved = specs.changed_tensors(updatable, trained)
    assert specs.TRAINED | {"bn.running_mean", "bn.running_variance"} <= moved <= specs.MAY_MOVE
    assert _without_weights(trained) == _without_weights(updatable)
    summary = json.loads(inspected.stdout)
    assert [(layer["name"], layer["is_updatable"]) for layer in summary["layers"]] == [
        ("fc1", True), ("bn", True), ("relu", False), ("fc2", True), ("probs", False)
    ]  # fmt: skip
    assert [(f["name"], f["type"]) for f in summary["training_inputs"]] == [
        ("x", "tensor"),
        ("label", "string"),
    ]
    assert summary["class_labels"] == list(specs.LABELS)
    assert summary["optimizer"]["hyperparameters"]["mini_batch_size"]["set"] == [4, 8, 16]


def test_traceback_only_with_mlspec_debug(tmp_path: Path) -> None:
    quiet = mlspec("inspect", "absent.mlspec", cwd=tmp_path)
    assert quiet.returncode == 1
    assert error_lines(quiet.stderr) == ["error: absent.mlspec: no such file"]
    loud = mlspec("inspect", "absent.mlspec", cwd=tmp_path, debug=True)
    assert loud.returncode == 1
    assert "Traceback (most recent call last)" in loud.stderr and "SpecLoadError" in loud.stderr
