"""The quick commands load neither onnxruntime nor onnx: each runs in a fresh interpreter here.

Commands import what they use inside the command (issue 11, part 3), so `--help`, `inspect`,
`validate` and `dump` start at the cost of protobuf, numpy and the CLI itself. The check is made
on sys.modules at exit, in a subprocess, so modules this test process already holds cannot hide
an import. The last case shows the check can fail: `convert` does load them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from typer.main import get_command_name

from mlspec import cli
from tests.cli import specs

HEAVY = ("onnx", "onnx.checker", "onnxruntime", "onnxruntime.training")
PROBE = """
import atexit, json, runpy, sys
heavy = {heavy!r}
atexit.register(lambda: print(json.dumps(sorted(m for m in heavy if m in sys.modules)), file=sys.stderr))
sys.argv = ["mlspec", *{args!r}]
runpy.run_module("mlspec", run_name="__main__")
"""


def loaded_heavy_modules(*args: str, heavy: tuple[str, ...] = HEAVY) -> list[str]:
    """The `heavy` modules a `mlspec *args` process held when it exited (any exit status)."""
    code = PROBE.format(heavy=heavy, args=list(args))
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    loaded: list[str] = json.loads(done.stderr.strip().splitlines()[-1])
    return loaded


@pytest.mark.parametrize("command", [[], ["--help"], ["inspect"], ["validate"], ["dump"]])
def test_quick_commands_import_neither_onnx_nor_onnxruntime(command: list[str], tmp_path: Path) -> None:
    spec = specs.write(specs.updatable_classifier(), tmp_path / "updatable.mlspec")
    args = [*command, str(spec)] if command and command[0] != "--help" else command
    assert loaded_heavy_modules(*args) == []


@pytest.mark.parametrize("command", [["validate"], ["dump"], ["inspect", "--json"], ["inspect"]])
def test_quick_commands_load_neither_typer_click_nor_rich(command: list[str], tmp_path: Path) -> None:
    """`validate`, `dump` and `inspect` run on the quick path (mlspec/cli/quick.py) without typer or
    click, and inspect's tables, going to a pipe, are drawn without rich (plain_tables.py)."""
    spec = specs.write(specs.updatable_classifier(), tmp_path / "updatable.mlspec")
    parsers = ("typer", "click", "rich")
    assert loaded_heavy_modules(command[0], str(spec), *command[1:], heavy=parsers) == []
    # The same command asked for its help goes to typer, and the probe sees it.
    assert {"typer", "click"} <= set(loaded_heavy_modules(command[0], "--help", heavy=parsers))


def test_tables_rich_must_draw_load_rich(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    spec = specs.write(specs.updatable_classifier(), tmp_path / "updatable.mlspec")
    monkeypatch.setenv("TTY_COMPATIBLE", "0")  # rich's own switch: plain_tables leaves it to rich
    assert loaded_heavy_modules("inspect", str(spec), heavy=("typer", "rich")) == ["rich"]


def test_the_probe_sees_a_command_that_loads_them(tmp_path: Path) -> None:
    spec = specs.write(specs.updatable_classifier(), tmp_path / "updatable.mlspec")
    loaded = loaded_heavy_modules("convert", str(spec), "-o", str(tmp_path / "artifacts"))
    assert {"onnx", "onnxruntime"} <= set(loaded)


def test_help_loads_only_the_command_line() -> None:
    """`mlspec --help` imports the command modules, and they import the library inside each command:
    neither the validator, the builder, rich nor importlib.metadata is loaded to list them."""
    library = ("mlspec.spec.validate", "mlspec.spec.io", "mlspec.builder", "rich", "importlib.metadata")
    assert loaded_heavy_modules("--help", heavy=library) == []
    assert loaded_heavy_modules("--version", heavy=library) == ["importlib.metadata"]


def test_command_modules_name_the_module_of_every_command() -> None:
    """main() loads only the asked command's module, found in COMMAND_MODULES; a command left out
    of the table would still run (every module loaded), so the table is checked here."""
    registered = {
        (info.name or get_command_name(info.callback.__name__)): info.callback.__module__.rsplit(".", 1)[1]
        for info in cli.load().registered_commands
        if info.callback is not None
    }
    assert registered == cli.COMMAND_MODULES
    assert set(cli.COMMAND_MODULES.values()) == set(cli.MODULES)


def test_a_quick_command_loads_only_its_own_command_module(tmp_path: Path) -> None:
    spec = specs.write(specs.updatable_classifier(), tmp_path / "updatable.mlspec")
    others = ("mlspec.cli.surgery_commands", "mlspec.cli.train_command", "mlspec.builder.network")
    assert loaded_heavy_modules("validate", str(spec), heavy=others) == []
    assert loaded_heavy_modules("inspect", str(spec), heavy=others) == []
