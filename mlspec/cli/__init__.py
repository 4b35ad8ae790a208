"""The `mlspec` command line: thin typer commands over the library.

Importing a command module registers its commands on the shared app.
"""

from __future__ import annotations

from mlspec.cli import (
    convert_commands,
    demo_command,
    edit_commands,
    import_commands,
    inspect_command,
    spec_commands,
    train_command,
    updatable_command,
)
from mlspec.cli.app import app

__all__ = [
    "app",
    "convert_commands",
    "demo_command",
    "edit_commands",
    "import_commands",
    "inspect_command",
    "main",
    "spec_commands",
    "train_command",
    "updatable_command",
]


def main() -> None:
    app(prog_name="mlspec")
