"""`mlspec inspect`: what a spec holds and how it may be trained, as tables or as JSON.

The JSON is the builder's `inspect_model` summary plus top-level `class_labels`, so scripts read
the same facts the tables show; the tables (inspect_tables.py) are a rendering of that one dictionary.
"""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from mlspec.cli.app import app
from mlspec.cli.errors import echo_stdout, one_line_errors
from mlspec.cli.options import ModelArg


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
    from mlspec.builder.inspect import inspect_model
    from mlspec.spec import graph
    from mlspec.spec.io import load

    spec = load(model)
    summary = {**inspect_model(spec), "class_labels": graph.class_labels(spec)}
    if as_json:
        echo_stdout(json.dumps(summary, indent=2))
        return
    from rich.console import Console

    from mlspec.cli.inspect_tables import render

    console = Console(file=sys.stdout, highlight=False, soft_wrap=False)
    for renderable in render(summary, title=str(model)):
        console.print(renderable)
