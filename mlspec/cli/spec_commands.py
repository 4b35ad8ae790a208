"""Commands that read a spec and report on it without changing anything.

Like every command module, this one imports the library inside each command: `mlspec --help`
imports every command module, and should cost no more than typer itself. What the commands do is
in reports.py, which the quick path (quick.py) also runs, without typer.
"""

from __future__ import annotations

import typer

from mlspec.cli import reports
from mlspec.cli.errors import one_line_errors
from mlspec.cli.options import ModelArg
from mlspec.cli.typer_app import app


@app.command()
@one_line_errors
def validate(model: ModelArg) -> None:
    """Check a spec against every rule and print each problem found.

    Exits 0 when the spec is valid and 1 when it has problems.

    Example: mlspec validate classifier.mlspec
    """
    if code := reports.validate(model):
        raise typer.Exit(code)


@app.command()
@one_line_errors
def dump(model: ModelArg) -> None:
    """Print the spec in protobuf text format (the .pbtxt form), weights included.

    Example: mlspec dump classifier.mlspec > classifier.pbtxt
    """
    reports.dump(model)
