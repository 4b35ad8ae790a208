"""`mlspec evaluate`, `mlspec predict` and `mlspec --version`, checked against the reference evaluator."""

from __future__ import annotations

import csv
import json
from importlib import metadata
from pathlib import Path

import numpy as np
import pytest

from mlspec.builder import NetworkBuilder
from mlspec.reference import evaluate
from mlspec.spec.io import load
from tests.cli import specs
from tests.cli.conftest import assert_one_line_failure, invoke
from tests.support.heads import classifier_head


def _reference(model: Path, data: Path) -> tuple[np.ndarray, np.ndarray]:
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
    result = invoke("evaluate", updatable_path, "--data", data, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    assert "confusion matrix (rows: true class, columns: predicted class)" in result.stdout
    assert all(label in result.stdout for label in specs.LABELS)
    assert max(len(line) for line in result.stdout.splitlines()[1:]) <= 80


def _many_classes(tmp_path: Path, labels: list[str], count: int) -> tuple[Path, Path]:
    """A random-weight classifier over `labels` and `count` examples it spreads over them."""
    builder = NetworkBuilder(class_labels=labels, seed=1)
    builder.add_input("x", [6])
    model = specs.write(classifier_head(builder, "x", len(labels)).spec, tmp_path / "many.mlspec")
    rng = np.random.default_rng(2)
    x = rng.normal(0, 3, (count, 6)).astype(np.float32)
    data = tmp_path / "many.npz"
    np.savez(data, x=x, label=np.array(labels)[rng.integers(0, len(labels), count)])
    return model, data


def _grid(lines: list[str], classes: int) -> np.ndarray:
    """The confusion matrix read back from the text, block by block (column heads are numbers
    or labels; each row ends with its block's counts)."""
    start = next(i for i, line in enumerate(lines) if line.startswith("confusion matrix"))
    grid = np.full((classes, classes), -1)
    index = start + 1
    column = 0
    while index < len(lines):
        if lines[index].startswith("predicted classes"):
            index += 1
        heads = lines[index].split()
        for row in range(classes):
            values = lines[index + 1 + row].split()[-len(heads) :]
            grid[row, column : column + len(heads)] = [int(v) for v in values]
        column += len(heads)
        index += classes + 1
    return grid


@pytest.mark.parametrize(
    ("labels", "count", "layout"),
    [
        ([str(i) for i in range(10)], 400, "by label"),
        ([f"category number {i:02d} long name" for i in range(12)], 600, "by number"),
        ([f"c{i}" for i in range(20)], 12000, "in blocks"),
    ],
)
def test_confusion_matrix_at_80_columns_reads_back_as_the_json(
    tmp_path: Path, labels: list[str], count: int, layout: str
) -> None:
    model, data = _many_classes(tmp_path, labels, count)
    env = {"COLUMNS": "80"}
    text = invoke("evaluate", model, "--data", data, env=env)
    report = json.loads(invoke("evaluate", model, "--data", data, "--json", env=env).stdout)
    assert text.exit_code == 0, text.output
    lines = text.stdout.splitlines()
    assert max(len(line) for line in lines[1:]) <= 80, text.stdout
    assert (_grid(lines, len(labels)) == np.array(report["confusion_matrix"])).all()
    assert ("predicted classes " in text.stdout) == (layout == "in blocks")
    assert ("predicted class by number" in text.stdout) == (layout == "by number")
    if layout == "by number":  # labels longer than 16 characters are cut in the text, whole in --json
        assert " 2 category number…" in text.stdout and report["classes"] == labels


def test_beyond_twenty_classes_evaluate_lists_the_most_frequent_confusions(tmp_path: Path) -> None:
    labels = [f"class {i}" for i in range(40)]
    model, data = _many_classes(tmp_path, labels, 2000)
    text = invoke("evaluate", model, "--data", data, env={"COLUMNS": "80"})
    report = json.loads(invoke("evaluate", model, "--data", data, "--json").stdout)
    assert max(len(line) for line in text.stdout.splitlines()[1:]) <= 80, text.stdout
    assert "confusion matrix: 40 classes, too many for a grid (--json has it all)" in text.stdout
    matrix = np.array(report["confusion_matrix"])
    np.fill_diagonal(matrix, 0)
    listed = text.stdout.split("most frequent confusions")[1].splitlines()[1:]
    assert len(listed) == 10
    expected = sorted(matrix.ravel().tolist(), reverse=True)[:10]
    assert [int(line.split()[-1]) for line in listed] == expected
    for line in listed:
        true, predicted = (part.strip() for part in line.rsplit(maxsplit=1)[0].split("->"))
        assert matrix[labels.index(true), labels.index(predicted)] == int(line.split()[-1])


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
