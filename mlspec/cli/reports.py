"""What `validate`, `dump` and `inspect` do once their arguments are known, without typer.

Each returns the exit code. The typer commands (spec_commands.py, inspect_command.py) and the quick
path (quick.py), which runs these three without importing typer, call the same functions, so the
two paths cannot print different things.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from mlspec.cli.errors import EXIT_FAILURE, echo_stdout


def validate(model: Path) -> int:
    """Print each problem of the spec at `model`; 1 when it has any."""
    from mlspec.spec.io import load
    from mlspec.spec.validate import find_problems

    spec = load(model)
    problems = find_problems(spec)
    if not problems:
        echo_stdout(f"{model}: valid")
        return 0
    echo_stdout(f"{model}: {len(problems)} problem{'s' if len(problems) != 1 else ''}")
    for problem in problems:
        echo_stdout(f"  - {problem}")
    return EXIT_FAILURE


def dump(model: Path) -> int:
    """Print the spec at `model` in protobuf text format."""
    from google.protobuf import text_format

    from mlspec.spec.io import load

    echo_stdout(text_format.MessageToString(load(model)))
    return 0


def inspect(model: Path, *, as_json: bool) -> int:
    """Print the spec's summary as tables, drawn by rich or as rich draws them (plain_tables.py),
    or as one JSON object."""
    from mlspec.builder.inspect import inspect_model
    from mlspec.spec import graph
    from mlspec.spec.io import load

    spec = load(model)
    summary = {**inspect_model(spec), "class_labels": graph.class_labels(spec)}
    if as_json:
        echo_stdout(json.dumps(summary, indent=2))
        return 0
    from mlspec.cli import plain_tables
    from mlspec.cli.inspect_tables import print_rich, render

    parts = render(summary, title=str(model))
    width = plain_tables.console_width(sys.stdout)
    drawn = plain_tables.lines(parts, width) if width is not None else None
    if drawn is None:
        print_rich(parts, sys.stdout)
    else:
        sys.stdout.write("".join(f"{line}\n" for line in drawn))
    return 0
