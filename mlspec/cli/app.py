"""The typer application object shared by every command module."""

from __future__ import annotations

import typer

app = typer.Typer(
    name="mlspec",
    help="Build, edit, convert and train updatable model specs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
