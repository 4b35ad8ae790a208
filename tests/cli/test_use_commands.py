"""`mlspec evaluate`, `mlspec predict` and `mlspec --version`, checked against the reference evaluator."""

from __future__ import annotations

import csv
import json
from importlib import metadata
from pathlib import Path

import numpy as np

from mlspec.reference import evaluate
from mlspec.spec.io import load
from tests.cli import specs
from tests.cli.conftest import assert_one_line_failure, invoke


def _reference(model: Path, data: Path) -> tuple[np.ndarray, np.ndarray]:  # type: ignore[type-arg]
    arrays = np.load(data)
    probs = evaluate(load(model), {"x": arrays["x"]})["probs"]
    truth = np.array([specs.LABELS.index(str(label)) for label in arrays["label"]])
    return np.asarray(probs, dtype=np.float64), truth


def test_evaluate_json_matches_the_reference(updatable_path: Path, tmp_path: Path) -> None:
    data = specs.write_blobs(tmp_path / "val.npz", 40, seed=3)
    result = invoke("evaluate", updatable_path, "--data", data, "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    probs, truth = _reference(updatable_path, data)
    predicted = np.argmax(probs, axis=1)
    expected = np.zeros((3, 3), dtype=int)
    for t, p in zip(truth, predicted, strict=True):
        expected[t, p] += 1
    assert report["confusion_matrix"] == expected.tolist()
    assert report["accuracy"] == np.mean(predicted == truth)
    assert report["examples"] == 40
    np.testing.assert_allclose(report["loss"], np.mean(-np.log(probs[np.arange(40), truth])), rtol=1e-4)
    for index, label in enumerate(specs.LABELS):
        row = expected[index]
        assert report["per_class_accuracy"][label] == (row[index] / row.sum() if row.sum() else None)


def test_evaluate_text_fits_80_columns_and_names_every_class(updatable_path: Path, tmp_path: Path) -> None:
    data = specs.write_blobs(tmp_path / "val.npz", 30, seed=3)
    result = invoke("evaluate", updatable_path, "--data", data)
    assert result.exit_code == 0, result.output
    assert "confusion matrix (rows: true class, columns: predicted class)" in result.stdout
    assert all(label in result.stdout for label in specs.LABELS)
    assert max(len(line) for line in result.stdout.splitlines()[1:]) <= 80


def test_predict_writes_labels_and_probabilities_like_the_reference(
    updatable_path: Path, tmp_path: Path
) -> None:
    data = specs.write_blobs(tmp_path / "val.npz", 12, seed=4)
    probs, _ = _reference(updatable_path, data)
    full, top = tmp_path / "all.csv", tmp_path / "top.csv"
    assert invoke("predict", updatable_path, "--data", data, "-o", full).exit_code == 0
    assert invoke("predict", updatable_path, "--data", data, "-o", top, "--top", "2").exit_code == 0
    rows = list(csv.DictReader(full.open()))
    assert len(rows) == 12
    for row, expected in zip(rows, probs, strict=True):
        got = [float(row[f"p_{label}"]) for label in specs.LABELS]
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-6)
        assert row["label"] == specs.LABELS[int(np.argmax(expected))]
    ranked = list(csv.DictReader(top.open()))
    assert list(ranked[0]) == ["index", "label", "top1", "p1", "top2", "p2"]
    for row, expected in zip(ranked, probs, strict=True):
        order = np.argsort(-expected)
        assert [row["top1"], row["top2"]] == [specs.LABELS[order[0]], specs.LABELS[order[1]]]
        assert float(row["p1"]) >= float(row["p2"])


def test_predict_refuses_to_overwrite_its_data(updatable_path: Path, tmp_path: Path) -> None:
    data = specs.write_blobs(tmp_path / "val.npz", 12)
    result = invoke("predict", updatable_path, "--data", data, "-o", data)
    assert_one_line_failure(result, "val.npz", "names an input file")


def test_version_prints_the_installed_version() -> None:
    result = invoke("--version")
    assert result.exit_code == 0
    assert result.stdout.strip() == f"mlspec {metadata.version('mlspec')}"
