"""The `mlspec` command line: thin typer commands over the library.

Importing a command module registers its commands on the shared app.
"""

from __future__ import annotations

from mlspec.cli import spec_commands
from mlspec.cli.app import app

__all__ = ["app", "main", "spec_commands"]


def main() -> None:
    app()
