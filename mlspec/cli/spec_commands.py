"""Commands that read a spec and report on it without changing anything.

Like every command module, this one imports the library inside each command: `mlspec --help`
imports every command module, and should cost no more than typer itself.
"""

from __future__ import annotations

import typer

from mlspec.cli.app import app
from mlspec.cli.errors import echo_stdout, one_line_errors
from mlspec.cli.options import ModelArg


@app.command()
@one_line_errors
def validate(model: ModelArg) -> None:
    """Check a spec against every rule and print each problem found.

    Exits 0 when the spec is valid and 1 when it has problems.

    Example: mlspec validate classifier.mlspec
    """
    from mlspec.spec.io import load
    from mlspec.spec.validate import find_problems

    spec = load(model)
    problems = find_problems(spec)
    if not problems:
        echo_stdout(f"{model}: valid")
        return
    echo_stdout(f"{model}: {len(problems)} problem{'s' if len(problems) != 1 else ''}")
    for problem in problems:
        echo_stdout(f"  - {problem}")
    raise typer.Exit(1)


@app.command()
@one_line_errors
def dump(model: ModelArg) -> None:
    """Print the spec in protobuf text format (the .pbtxt form), weights included.

    Example: mlspec dump classifier.mlspec > classifier.pbtxt
    """
    from google.protobuf import text_format

    from mlspec.spec.io import load

    echo_stdout(text_format.MessageToString(load(model)))
