"""The typer application object shared by every command module."""

from __future__ import annotations

from typing import Annotated

import typer

app = typer.Typer(
    name="mlspec",
    help="Build, edit, convert and train updatable model specs.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _print_version(value: bool) -> None:
    if value:
        from importlib import metadata  # its email and socket imports cost every command otherwise

        typer.echo(f"mlspec {metadata.version('mlspec')}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print the version and exit."),
    ] = False,
) -> None:
    """Build, edit, convert and train updatable model specs."""
