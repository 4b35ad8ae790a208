"""The quick path (mlspec/cli/quick.py) parses as typer does and behaves as the typer commands do.

typer is the single source of truth for the command line: the quick path takes only command lines
whose meaning click would give the same values, and every other line goes to typer. Each case
below runs both paths as real processes and compares stdout, stderr and the exit code exactly.
"""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import click
import pytest
from typer.main import get_command

from mlspec import cli
from mlspec.cli import errors, quick, reports
from tests.cli import specs
from tests.cli.conftest import invoke
from tests.cli.subprocesses import MLSPEC, environment

# The same command line, run by typer: what `main` does when the quick path declines.
TYPER = [sys.executable, "-c", "import sys; from mlspec import cli; cli.load()(prog_name='mlspec')"]


def click_command(name: str) -> click.Command:
    group = get_command(cli.load())
    assert isinstance(group, click.Group)
    return group.commands[name]


@pytest.mark.parametrize("name", sorted(quick.COMMANDS))
def test_quick_commands_declare_every_parameter_typer_has(name: str) -> None:
    """One `model` argument and the flags quick.py knows: a parameter added to the typer command
    and not here fails this test instead of being silently dropped on the quick path."""
    params = click_command(name).params
    assert [p.name for p in params if isinstance(p, click.Argument)] == ["model"]
    options = [p for p in params if isinstance(p, click.Option)]
    assert all(p.is_flag and not p.secondary_opts and p.default is False for p in options)
    assert {opt: p.name for p in options for opt in p.opts} == quick.COMMANDS[name].flags


ACCEPTED = [
    ["validate", "a.mlspec"],
    ["dump", "dir/b.pbtxt"],
    ["inspect", "a.mlspec"],
    ["inspect", "a.mlspec", "--json"],
    ["inspect", "--json", "a b.mlspec"],
]


@pytest.mark.parametrize("argv", ACCEPTED, ids=" ".join)
def test_typer_calls_the_same_function_with_the_same_values(
    argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The typer command, given an accepted line, calls the function the quick path would run,
    with the values the quick path would pass (a spy stands in for it)."""
    parsed = quick.parse(argv)
    assert parsed is not None
    command, values = parsed
    original = getattr(reports, argv[0])
    assert command is quick.COMMANDS[argv[0]] and command.run is original
    calls: list[dict[str, object]] = []

    def spy(*args: object, **kwargs: object) -> int:
        calls.append(dict(inspect.signature(original).bind(*args, **kwargs).arguments))
        return 0

    monkeypatch.setattr(reports, argv[0], spy)
    assert invoke(*argv).exit_code == 0
    assert calls == [values]


DECLINED = [
    [],
    ["--help"],
    ["--version"],
    ["train", "a.mlspec"],
    ["validate"],
    ["validate", "--help"],
    ["validate", "a.mlspec", "--help"],
    ["validate", "a.mlspec", "b.mlspec"],
    ["validate", "a.mlspec", "--json"],
    ["validate", ""],
    ["validate", "-"],
    ["validate", "--", "-a.mlspec"],
    ["inspect", "a.mlspec", "--json", "--json"],
    ["inspect", "a.mlspec", "--no-json"],
    ["inspect", "a.mlspec", "--json=1"],
    ["--version", "validate", "a.mlspec"],
]


@pytest.mark.parametrize("argv", DECLINED, ids=" ".join)
def test_every_other_line_goes_to_typer(argv: list[str]) -> None:
    assert quick.parse(argv) is None
    assert quick.run(argv) is None


def _run(command: list[str], args: list[str], cwd: Path, debug: bool) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*command, *args],
        cwd=cwd,
        env={**environment(debug), "COLUMNS": "100"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _files(tmp_path: Path) -> dict[str, Path]:
    broken = specs.classifier()
    broken.network.layers[0].inputs[0] = "nowhere"
    (tmp_path / "garbage.mlspec").write_bytes(b"not a spec at all")
    (tmp_path / "folder.mlspec").mkdir()
    return {
        "updatable": specs.write(specs.updatable_classifier(), tmp_path / "updatable.mlspec"),
        "text": specs.write(specs.classifier(), tmp_path / "classifier.pbtxt"),
        "broken": specs.write(broken, tmp_path / "broken.mlspec"),
        "garbage": tmp_path / "garbage.mlspec",
        "folder": tmp_path / "folder.mlspec",
        "missing": tmp_path / "missing.mlspec",
    }


CASES = [
    ("validate", "updatable", ()),
    ("validate", "broken", ()),
    ("validate", "garbage", ()),
    ("validate", "folder", ()),
    ("validate", "missing", ()),
    ("dump", "text", ()),
    ("dump", "missing", ()),
    ("inspect", "updatable", ()),
    ("inspect", "updatable", ("--json",)),
    ("inspect", "broken", ("--json",)),
    ("inspect", "garbage", ()),
]


@pytest.mark.parametrize(("name", "file", "flags"), CASES, ids=str)
def test_the_quick_path_prints_what_typer_prints(
    name: str, file: str, flags: tuple[str, ...], tmp_path: Path
) -> None:
    args = [name, str(_files(tmp_path)[file]), *flags]
    assert quick.parse(args) is not None
    fast = _run(MLSPEC, args, tmp_path, debug=False)
    typer_run = _run(TYPER, args, tmp_path, debug=False)
    assert (fast.returncode, fast.stdout, fast.stderr) == (
        typer_run.returncode,
        typer_run.stdout,
        typer_run.stderr,
    )
    assert fast.returncode in (0, 1)
    if fast.returncode:
        assert fast.stderr.startswith("error: ") or fast.stdout.count("  - ") >= 1


@pytest.mark.parametrize("file", ["garbage", "missing"])
def test_mlspec_debug_gives_the_same_traceback_on_both_paths(file: str, tmp_path: Path) -> None:
    args = ["validate", str(_files(tmp_path)[file])]
    fast = _run(MLSPEC, args, tmp_path, debug=True)
    typer_run = _run(TYPER, args, tmp_path, debug=True)
    assert fast.returncode == typer_run.returncode == 1
    assert fast.stderr.startswith("Traceback") and typer_run.stderr.startswith("Traceback")
    assert fast.stderr.splitlines()[-1] == typer_run.stderr.splitlines()[-1]
    assert fast.stderr.splitlines()[-1].startswith("mlspec.spec.errors.SpecLoadError: ")
    assert "error: " not in fast.stderr


@pytest.mark.parametrize("debug", [False, True])
@pytest.mark.parametrize("failure", [KeyboardInterrupt, EOFError, RuntimeError])
def test_interrupts_and_bugs_end_as_typer_ends_them(
    failure: type[BaseException],
    debug: bool,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Interrupts cannot be sent reliably to a child at the right instant, so both paths run here,
    with the command replaced by one that fails: same exit code, same stderr (tracebacks aside)."""

    def failing(model: Path) -> int:
        raise failure("boom")

    monkeypatch.setenv("MLSPEC_DEBUG", "1" if debug else "")
    monkeypatch.setitem(quick.COMMANDS, "validate", quick.QuickCommand(failing))
    monkeypatch.setattr(reports, "validate", failing)
    try:
        code: int | None = quick.run(["validate", "a.mlspec"])
    except RuntimeError:
        code = None
    fast_err = capsys.readouterr().err
    try:
        cli.load()(prog_name="mlspec", args=["validate", "a.mlspec"])
    except SystemExit as exit_:
        typer_code: int | None = int(exit_.code or 0)
    except RuntimeError:
        typer_code = None
    assert (code, fast_err) == (typer_code, capsys.readouterr().err)
    expected = {
        (False, KeyboardInterrupt): errors.EXIT_INTERRUPTED,
        (True, KeyboardInterrupt): errors.EXIT_INTERRUPTED,
        (True, EOFError): 1,
        (True, RuntimeError): None,
    }
    assert code == expected.get((debug, failure), errors.EXIT_FAILURE)
