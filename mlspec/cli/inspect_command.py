"""`mlspec inspect`: what a spec holds and how it may be trained, as tables or as JSON.

The JSON is the builder's `inspect_model` summary plus top-level `class_labels`, so scripts read
the same facts the tables show; the tables (inspect_tables.py) are a rendering of that one dictionary.
reports.py prints them, for this command and for the quick path (quick.py).
"""

from __future__ import annotations

from typing import Annotated

import typer

from mlspec.cli import reports
from mlspec.cli.errors import one_line_errors
from mlspec.cli.options import ModelArg
from mlspec.cli.typer_app import app


@app.command()
@one_line_errors
def inspect(
    *,
    model: ModelArg,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object instead of tables.")] = False,
) -> None:
    """Show layers, losses, optimizer (defaults and allowed values), run settings, training inputs, labels.

    Example: mlspec inspect updatable.mlspec --json
    """
    reports.inspect(model, as_json=as_json)
