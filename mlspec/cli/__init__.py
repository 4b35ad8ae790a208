"""The `mlspec` command line: thin typer commands over the library.

Importing a command module registers its commands on the shared app, in import order.
"""

from __future__ import annotations

# Registration order is the order `mlspec --help` lists the commands in.
# isort: off
from mlspec.cli import spec_commands, inspect_command, updatable_command, edit_commands
from mlspec.cli import surgery_commands
from mlspec.cli import convert_commands, train_command, state_command, use_commands, knn_commands
from mlspec.cli import import_commands, demo_command
from mlspec.cli import federate_command

# isort: on
from mlspec.cli.app import app

__all__ = [
    "app",
    "convert_commands",
    "demo_command",
    "edit_commands",
    "federate_command",
    "import_commands",
    "inspect_command",
    "knn_commands",
    "main",
    "spec_commands",
    "state_command",
    "surgery_commands",
    "train_command",
    "updatable_command",
    "use_commands",
]


def main() -> None:
    app(prog_name="mlspec")
