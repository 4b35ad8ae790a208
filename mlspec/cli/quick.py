"""The quick path: `validate`, `dump` and `inspect` run without importing typer, click or rich.

Those three are what people type most and wait for; typer and click cost about 0.05 s of CPU at
every start, a quarter of the whole command. `run` takes only the plainest command lines:
the command's name, then its one spec path and its flags, each at most once. Anything else
(`--help`, an unknown option, a missing or extra argument, a path starting with "-") goes to
typer, which stays the only parser that explains usage errors and prints help.

typer's definitions stay the single source of truth: tests/cli/test_quick.py checks that
`COMMANDS` names every parameter the typer command has, and that click parses each command line
accepted here into the same values; the commands themselves are the functions in reports.py,
which the typer commands call too.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from mlspec.cli import reports
from mlspec.cli.errors import EXIT_FAILURE, EXIT_INTERRUPTED, reported


@dataclass(frozen=True)
class QuickCommand:
    """A command taking one spec path (its `model` argument) and boolean flags."""

    run: Callable[..., int]
    flags: dict[str, str] = field(default_factory=dict)
    """Each flag's option name and the keyword it sets to True, as typer declares them."""


COMMANDS: dict[str, QuickCommand] = {
    "validate": QuickCommand(reports.validate),
    "dump": QuickCommand(reports.dump),
    "inspect": QuickCommand(reports.inspect, {"--json": "as_json"}),
}


def parse(argv: list[str]) -> tuple[QuickCommand, dict[str, object]] | None:
    """The command and its keyword arguments, when `argv` is a plain call of a quick command."""
    if not argv or argv[0] not in COMMANDS:
        return None
    command = COMMANDS[argv[0]]
    paths = [arg for arg in argv[1:] if not arg.startswith("-")]
    flags = [arg for arg in argv[1:] if arg.startswith("-")]
    if len(paths) != 1 or not paths[0] or len(set(flags)) != len(flags):
        return None
    if any(flag not in command.flags for flag in flags):
        return None
    values: dict[str, object] = {keyword: flag in flags for flag, keyword in command.flags.items()}
    return command, {"model": Path(paths[0]), **values}


def run(argv: list[str]) -> int | None:
    """Run `argv` on the quick path and return its exit code; None when typer must take it."""
    parsed = parse(argv)
    if parsed is None:
        return None
    command, values = parsed
    try:
        return command.run(**values)
    except BaseException as exc:
        code = reported(exc)
        if code is not None:
            return code
        # What typer's main does with these when MLSPEC_DEBUG lets them through the command.
        if isinstance(exc, KeyboardInterrupt):
            return EXIT_INTERRUPTED
        if isinstance(exc, EOFError):
            sys.stderr.write("\nAborted!\n")
            return EXIT_FAILURE
        raise
