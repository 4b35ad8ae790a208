"""Every command fails the same way: one `error:` line naming the file and the fix, exit 1, no
traceback, no output file created and an existing one left byte for byte as it was."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlspec.convert import to_onnx
from mlspec.spec.errors import SpecLoadError
from tests.cli import specs
from tests.cli.conftest import assert_one_line_failure, invoke

SENTINEL = b"an earlier output that must survive"

# Each command with its arguments after MODEL; "{out}" is the output path, "{data}" the .npz.
COMMANDS: dict[str, list[str]] = {
    "validate": [],
    "dump": [],
    "inspect": ["--json"],
    "make-updatable": ["-o", "{out}"],
    "convert": ["-o", "{out}"],
    "export-onnx": ["-o", "{out}"],
    "train": ["--data", "{data}", "-o", "{out}"],
    "widen-classifier": ["--classes", "5", "-o", "{out}"],
    "reinit": ["--layer", "fc2", "-o", "{out}"],
}


def bad_spec(kind: str, directory: Path) -> tuple[Path, str]:
    """A file that is not a usable spec, and the words the error must contain."""
    good = specs.write(specs.updatable_classifier(), directory / "good.mlspec").read_bytes()
    if kind == "missing":
        return directory / "absent.mlspec", "no such file"
    if kind == "truncated":
        path = directory / "truncated.mlspec"
        path.write_bytes(good[: len(good) // 2])
        return path, "truncated"
    if kind == "random":
        path = directory / "random.mlspec"
        path.write_bytes(np.random.default_rng(5).integers(0, 256, 700, dtype=np.uint8).tobytes())
        return path, "not an mlspec spec"
    path = directory / "model.onnx"
    path.write_bytes(to_onnx(specs.classifier()).SerializeToString())
    return path, "import-onnx"


def output_for(command: str, directory: Path) -> Path:
    return directory / ("artifacts" if command == "convert" else "out.mlspec")


def plant(output: Path) -> None:
    if output.suffix:
        output.write_bytes(SENTINEL)
    else:
        output.mkdir()
        (output / "manifest.json").write_bytes(SENTINEL)


def untouched(output: Path) -> bool:
    target = output if output.suffix else output / "manifest.json"
    files = [output] if output.suffix else list(output.iterdir())
    return target.read_bytes() == SENTINEL and len(files) == 1


@pytest.mark.parametrize("kind", ["missing", "truncated", "random", "onnx"])
@pytest.mark.parametrize("command", list(COMMANDS))
def test_unreadable_spec(command: str, kind: str, tmp_path: Path) -> None:
    model, words = bad_spec(kind, tmp_path)
    output = output_for(command, tmp_path)
    data = specs.write_blobs(tmp_path / "train.npz", 8)
    existing = kind in ("truncated", "onnx")
    if existing:
        plant(output)
    args = [arg.format(out=output, data=data) for arg in COMMANDS[command]]
    result = invoke(command, model, *args)
    assert_one_line_failure(result, model.name, words)
    if existing:
        assert untouched(output)
    else:
        assert not output.exists()
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []  # no temp files left


def test_debug_shows_the_exception(tmp_path: Path) -> None:
    result = invoke("inspect", tmp_path / "absent.mlspec", env={"MLSPEC_DEBUG": "1"})
    assert result.exit_code == 1
    assert isinstance(result.exception, SpecLoadError)
    assert result.exc_info is not None and result.exc_info[2] is not None


@pytest.mark.parametrize(
    ("command", "args", "words"),
    [
        ("make-updatable", ["--layers", "fc2,nope"], ['no layer named "nope"', "fc1, bn, relu, fc2, probs"]),
        ("widen-classifier", ["--layer", "nope", "--classes", "5"], ['no layer named "nope"']),
        ("widen-classifier", ["--layer", "fc1", "--classes", "5"], ['"fc2"', "class probabilities"]),
        ("reinit", ["--layer", "nope"], ['no layer named "nope"']),
        ("reinit", ["--layer", "relu"], ['layers["relu"]', "no weights"]),
        (
            "make-updatable",
            ["--layers", "relu"],
            ['layers["relu"]', "inner_product, convolution, batch_norm, layer_norm, embedding"],
        ),
        ("make-updatable", ["--optimizer", "adam", "--momentum", "0.5"], ["--momentum", "adam"]),
        ("make-updatable", ["--batch-sizes", "1,2"], ["--batch-sizes", "--batch-size"]),
        ("make-updatable", ["--lr", "-0.5"], ["learning_rate=-0.5", "[0.0, 1.0]"]),
        ("widen-classifier", ["--classes", "2"], ["widen to 2", "narrow"]),
    ],
)
def test_refused_edits(
    command: str, args: list[str], words: list[str], classifier_path: Path, tmp_path: Path
) -> None:
    output = tmp_path / "out.mlspec"
    before = specs.digest(classifier_path)
    result = invoke(command, classifier_path, *args, "-o", output)
    assert_one_line_failure(result, *words)
    assert not output.exists()
    assert specs.digest(classifier_path) == before


def test_no_default_loss_without_a_classifier(tmp_path: Path) -> None:
    model = specs.write(specs.regressor(), tmp_path / "regressor.mlspec")
    result = invoke("make-updatable", model, "-o", tmp_path / "out.mlspec")
    assert_one_line_failure(result, "not a classifier", "--loss", "--loss-input")


def test_output_equal_to_input_needs_in_place(classifier_path: Path) -> None:
    before = specs.digest(classifier_path)
    result = invoke("make-updatable", classifier_path, "-o", classifier_path)
    assert_one_line_failure(result, "--in-place")
    assert specs.digest(classifier_path) == before
    assert invoke("make-updatable", classifier_path, "-o", classifier_path, "--in-place").exit_code == 0
    assert specs.digest(classifier_path) != before


@pytest.mark.parametrize(
    "args",
    [
        ["--batch-sizes", "1,x"],
        ["--lr-range", "0.5"],
        ["--epochs-range", "5:1"],
        ["--epochs-range", "1:5", "--epochs-allowed", "1,5"],
        ["--clip-norm", "1", "--clip-value", "1"],
        ["--loss", "hinge"],
        [],  # no -o
    ],
)
def test_usage_errors_exit_2(args: list[str], classifier_path: Path, tmp_path: Path) -> None:
    output = [] if not args else ["-o", str(tmp_path / "out.mlspec")]
    result = invoke("make-updatable", classifier_path, *output, *args)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out.mlspec").exists()
