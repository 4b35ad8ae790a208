"""`mlspec train` in-process: refused overrides and data, and what a completed run prints and writes."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from mlspec.cli import train_display
from mlspec.reference import evaluate
from mlspec.spec.io import load
from tests.cli import specs
from tests.cli.conftest import assert_one_line_failure, invoke
from tests.cli.test_failures import SENTINEL

ROW = re.compile(r"^\s*(\d+)\s+(\d+\.\d+)\s+(\S+)\s+(\S+)\s*$", re.MULTILINE)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--batch-size", "3"], ["--batch-size=3", "{4, 8, 16}", "make-updatable --batch-sizes"]),
        (["--epochs", "60"], ["--epochs=60", "[1, 50]", "make-updatable --epochs-range"]),
        (["--lr", "-0.1"], ["--lr=-0.1", "[0.0, 1.0]", "make-updatable --lr-range"]),
        (["--beta1", "0.9"], ["beta1", "sgd"]),
    ],
)
def test_overrides_outside_the_allowed_values(
    args: list[str], words: list[str], updatable_path: Path, train_npz: Path, tmp_path: Path
) -> None:
    output = tmp_path / "out.mlspec"
    output.write_bytes(SENTINEL)
    result = invoke("train", updatable_path, "--data", train_npz, "-o", output, *args)
    assert_one_line_failure(result, updatable_path.name, *words)
    assert output.read_bytes() == SENTINEL


def _npz(path: Path, **arrays: npt.ArrayLike) -> Path:
    np.savez(path, allow_pickle=True, **arrays)  # the object-array case stores a pickle on purpose
    return path


@pytest.mark.parametrize(
    ("arrays", "words"),
    [
        ({"x": np.zeros((6, 4), np.float32)}, ["missing 'label'", "expected keys: x, label"]),
        (
            {"x": np.zeros((6, 5), np.float32), "label": np.zeros(6, np.int64)},
            ["'x' has per-example shape (5,)", "expected (4,)"],
        ),
        (
            {"x": np.zeros((2, 4), np.float32), "label": np.array(["cat", 1], dtype=object)},
            ["'label' holds Python objects", "never unpickles"],
        ),
        ({"x": np.zeros((3, 4), np.float32), "label": np.array([0, 7, 1])}, ["'label'[1] = 7", "[0, 2]"]),
        ({"x": np.zeros((2, 4), np.float32), "label": np.array(["cat", "emu"])}, ["'emu'", "'cat', 'dog'"]),
    ],
    ids=["missing-label", "feature-size", "object-array", "label-out-of-range", "unknown-label"],
)
def test_refused_training_data(
    arrays: dict[str, npt.ArrayLike], words: list[str], updatable_path: Path, tmp_path: Path
) -> None:
    data = _npz(tmp_path / "bad.npz", **arrays)
    output = tmp_path / "out.mlspec"
    before = specs.digest(updatable_path)
    result = invoke("train", updatable_path, "--data", data, "-o", output)
    assert_one_line_failure(result, "bad.npz", *words)
    assert "epoch 1/" not in result.stdout  # refused before a progress bar was drawn
    assert not output.exists()
    assert specs.digest(updatable_path) == before


def test_missing_training_data_is_refused_before_a_progress_bar(updatable_path: Path, tmp_path: Path) -> None:
    result = invoke("train", updatable_path, "--data", tmp_path / "absent.npz", "-o", tmp_path / "out.mlspec")
    assert_one_line_failure(result, "absent.npz", "no such file")
    assert result.stdout.splitlines() == [
        line for line in result.stdout.splitlines() if line.startswith("training")
    ]


def test_a_run_prints_epochs_and_writes_only_the_trained_weights(
    updatable_path: Path, train_npz: Path, tmp_path: Path
) -> None:
    val = specs.write_blobs(tmp_path / "val.npz", 30, seed=9, string_labels=False)
    output = tmp_path / "trained.mlspec"
    before = specs.digest(updatable_path)
    result = invoke(
        "train",
        updatable_path,
        "--data",
        train_npz,
        "--val",
        val,
        "-o",
        output,
        "--epochs",
        "4",
        "--lr",
        "0.3",
    )
    assert result.exit_code == 0, result.output
    rows = [(int(e), float(loss), v, acc) for e, loss, v, acc in ROW.findall(result.stdout)]
    assert [row[0] for row in rows] == [1, 2, 3, 4]
    assert rows[-1][1] < rows[0][1]
    assert all(row[2] != "-" and row[3].endswith("%") for row in rows)
    assert "sgd, 4 epochs, batch 8, learning rate 0.3" in result.stdout
    assert specs.digest(updatable_path) == before
    # The printed validation loss is the mean cross-entropy of the written spec on val.npz.
    x, classes = specs.blobs(30, seed=9)
    trained = load(output)
    probabilities = evaluate(trained, {"x": x})["probs"].astype(np.float64)
    expected = -np.mean(np.log(probabilities[np.arange(len(classes)), classes]))
    assert float(rows[-1][2]) == pytest.approx(expected, abs=2e-4)
    moved = specs.changed_tensors(load(updatable_path), trained)
    assert specs.TRAINED | {"bn.running_mean", "bn.running_variance"} <= moved <= specs.MAY_MOVE


def test_plot_without_matplotlib_says_so_and_still_trains(
    updatable_path: Path, train_npz: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(train_display, "plotting_available", lambda: False)
    output, plot = tmp_path / "trained.mlspec", tmp_path / "loss.png"
    result = invoke(
        "train", updatable_path, "--data", train_npz, "-o", output, "--epochs", "1", "--plot", plot
    )
    assert result.exit_code == 0, result.output
    notes = [line for line in result.stderr.splitlines() if line.startswith("note:")]
    assert len(notes) == 1 and "matplotlib" in notes[0] and "mlspec[plot]" in notes[0]
    assert output.exists() and not plot.exists()


def test_plot_draws_the_epoch_losses(updatable_path: Path, train_npz: Path, tmp_path: Path) -> None:
    output, plot = tmp_path / "trained.mlspec", tmp_path / "loss.png"
    result = invoke(
        "train",
        updatable_path,
        "--data",
        train_npz,
        "--val",
        train_npz,
        "-o",
        output,
        "--epochs",
        "3",
        "--plot",
        plot,
    )
    assert result.exit_code == 0, result.output
    assert f"wrote the loss plot to {plot}" in result.stdout
    data = plot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 5_000
    assert not list(tmp_path.glob(".loss.png.*"))


def test_plot_suffix_matplotlib_cannot_write_is_refused_before_training(
    updatable_path: Path, train_npz: Path, tmp_path: Path
) -> None:
    output, plot = tmp_path / "trained.mlspec", tmp_path / "loss.xyz"
    result = invoke("train", updatable_path, "--data", train_npz, "-o", output, "--plot", plot)
    assert_one_line_failure(result, "loss.xyz")
    assert not output.exists() and not plot.exists()


def test_output_may_not_be_an_input(updatable_path: Path, train_npz: Path) -> None:
    before = specs.digest(updatable_path)
    result = invoke("train", updatable_path, "--data", train_npz, "-o", updatable_path)
    assert_one_line_failure(result, "input file")
    assert specs.digest(updatable_path) == before
