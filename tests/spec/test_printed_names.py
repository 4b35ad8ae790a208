"""Names and labels from a file are printed escaped and cut, never obeyed by the terminal.

Findings of the security review (issue 16): labels and layer names with terminal escapes were
printed raw by validate, inspect and error lines (clearing the screen, setting the window
title); a 20 MB layer name took 7.3 GB in convert.
"""

from __future__ import annotations

from pathlib import Path

import mlspec
from mlspec._proto import model_pb2
from mlspec.spec.text import printable, shown
from mlspec.spec.validate import find_problems
from tests.cli.subprocesses import mlspec as run
from tests.support.specs import dense, tensor_feature

CLEAR_SCREEN = "\x1b[2J"
SET_TITLE = "\x1b]0;pwned\x07"


def test_printable_escapes_controls_and_keeps_text() -> None:
    assert printable(f"fc{CLEAR_SCREEN}1\tx\n") == "fc\\x1b[2J1\tx\n"
    assert printable("a\u202eb\x9bc") == "a\\u202eb\\x9bc"
    assert printable("naïve 名前") == "naïve 名前"
    assert shown("x" * 100, limit=10) == "xxxxxxxxxx...(100 characters)"


def _spec_with_names(tmp_path: Path, layer_name: str) -> Path:

    model = model_pb2.Model(spec_version=1)
    model.description.inputs.append(tensor_feature("x", ["batch", 2]))
    model.description.outputs.append(tensor_feature("y", ["batch", 3]))
    model.network.layers.append(dense(layer_name, "x", "y", 2, 3))
    model.network.layers[0].inner_product.ClearField("bias")  # one problem to report
    path = tmp_path / "escapes.mlspec"
    mlspec.save(model, path)
    return path


def test_terminal_escapes_in_names_are_printed_escaped_by_validate_and_inspect(tmp_path: Path) -> None:
    path = _spec_with_names(tmp_path, f"fc{CLEAR_SCREEN}{SET_TITLE}")
    for command in (("validate", path), ("inspect", path), ("convert", path, "-o", tmp_path / "out")):
        done = run(*command, cwd=tmp_path)
        printed = done.stdout + done.stderr
        assert "\x1b" not in printed and "\x07" not in printed, command
        assert "fc\\x1b[2J" in printed, (command, printed)


def test_a_huge_layer_name_is_refused_by_validate_and_quoted_short(tmp_path: Path) -> None:
    path = _spec_with_names(tmp_path, "n" * 2_000_000)
    problems = find_problems(mlspec.load(path))
    too_long = [p for p in problems if "over the limit of 1024" in p.message]
    assert too_long and all(len(str(p)) < 400 for p in problems)
    done = run("convert", path, "-o", tmp_path / "out", cwd=tmp_path)
    assert done.returncode == 1 and len(done.stderr) < 1000
    assert "characters long, over the limit of 1024" in done.stderr


def test_export_onnx_validates_first_and_writes_nothing_for_an_invalid_spec(tmp_path: Path) -> None:
    """It wrote broken ONNX for invalid specs (np.prod wrapped to 0 on dims [2^32, 2^32])."""
    path = _spec_with_names(tmp_path, "fc")
    done = run("export-onnx", path, "-o", tmp_path / "out.onnx", cwd=tmp_path)
    assert done.returncode == 1
    assert 'layers["fc"].bias: is missing' in done.stderr
    assert not (tmp_path / "out.onnx").exists()
