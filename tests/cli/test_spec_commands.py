"""inspect, validate, dump, convert and export-onnx on real specs."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from google.protobuf import text_format

from mlspec._proto import model_pb2
from mlspec.backends.ort_training.artifacts import ARTIFACT_FILES
from mlspec.builder import NetworkBuilder
from mlspec.reference import evaluate
from mlspec.spec.io import load
from tests.cli import specs
from tests.cli.conftest import assert_one_line_failure, invoke


def test_inspect_tables_show_layers_training_settings_and_labels(updatable_path: Path) -> None:
    result = invoke("inspect", updatable_path)
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    fc2 = next(line for line in lines if "│ fc2 " in line)
    assert all(word in fc2 for word in ("inner_product", "[batch, 3]", "27", "yes (weights, bias)"))
    relu = next(line for line in lines if "│ relu " in line)
    assert "activation" in relu and "│ no" in relu
    batch = next(line for line in lines if "mini_batch_size" in line)
    assert "8" in batch and "{4, 8, 16}" in batch
    epochs = next(line for line in lines if "│ epochs" in line)
    assert "3" in epochs and "[1, 50]" in epochs
    assert any("categorical_cross_entropy" in line and "probs" in line for line in lines)
    assert "Class labels (3): cat, dog, fish" in result.stdout
    assert "Optimizer: sgd" in result.stdout and "Training inputs" in result.stdout


def test_inspect_json_carries_the_documented_keys(updatable_path: Path) -> None:
    result = invoke("inspect", updatable_path, "--json")
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    spec = load(updatable_path)
    assert [(layer["name"], layer["kind"], layer["is_updatable"]) for layer in summary["layers"]] == [
        (layer.name, layer.WhichOneof("kind"), layer.is_updatable) for layer in spec.network.layers
    ]
    assert [(f["name"], f["type"]) for f in summary["training_inputs"]] == [
        ("x", "tensor"),
        ("label", "string"),
    ]
    assert summary["class_labels"] == ["cat", "dog", "fish"]
    assert summary["losses"][0]["kind"] == "categorical_cross_entropy"
    assert summary["optimizer"]["kind"] == "sgd"
    assert summary["optimizer"]["hyperparameters"]["mini_batch_size"] == {"default": 8, "set": [4, 8, 16]}


def test_validate_lists_every_problem(tmp_path: Path, updatable_path: Path) -> None:
    assert invoke("validate", updatable_path).stdout.strip().endswith(": valid")
    builder = NetworkBuilder.edit(specs.classifier())
    builder.make_updatable(["fc2"])  # no loss, optimizer or epochs yet
    unfinished = specs.write(builder.spec, tmp_path / "unfinished.mlspec")
    result = invoke("validate", unfinished)
    assert result.exit_code == 1
    problems = [line for line in result.stdout.splitlines() if line.startswith("  - ")]
    assert len(problems) >= 3
    assert any("loss_layers" in line for line in problems) and any("optimizer" in line for line in problems)


def test_dump_is_the_text_form_of_the_spec(updatable_path: Path) -> None:
    result = invoke("dump", updatable_path)
    parsed = text_format.Parse(result.stdout, model_pb2.Model())
    assert parsed == load(updatable_path)


def test_convert_writes_the_artifact_set_and_refuses_foreign_directories(
    updatable_path: Path, tmp_path: Path
) -> None:
    out = tmp_path / "artifacts"
    result = invoke("convert", updatable_path, "-o", out)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == sorted(ARTIFACT_FILES)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["feed_order"] == ["x", "label"]
    assert invoke("convert", updatable_path, "-o", out).exit_code == 0  # its own artifacts may be replaced
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "holiday.jpg").write_bytes(b"jpeg")
    assert_one_line_failure(invoke("convert", updatable_path, "-o", foreign), "holiday.jpg")
    assert sorted(p.name for p in foreign.iterdir()) == ["holiday.jpg"]


def test_convert_refuses_a_spec_with_nothing_to_train(classifier_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "artifacts"
    assert_one_line_failure(invoke("convert", classifier_path, "-o", out), "updatable")
    assert not out.exists()


def test_export_onnx_keeps_input_names_and_gives_probabilities(classifier_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "model.onnx"
    result = invoke("export-onnx", classifier_path, "-o", out)
    assert result.exit_code == 0, result.output
    onnx.checker.check_model(onnx.load(out))
    x, _ = specs.blobs(5)
    session = ort.InferenceSession(out.read_bytes(), providers=["CPUExecutionProvider"])
    assert [value.name for value in session.get_inputs()] == ["x"]
    probabilities, labels = session.run(["probs", "label"], {"x": x})
    expected = evaluate(load(classifier_path), {"x": x})["probs"]
    assert probabilities.shape == (5, 3)
    np.testing.assert_allclose(probabilities, expected, rtol=1e-5, atol=1e-6)
    assert list(labels) == [specs.LABELS[i] for i in expected.argmax(axis=1)]
