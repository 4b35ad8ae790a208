"""The `mlspec` command line: thin typer commands over the library.

Importing a command module registers its commands on the shared app (typer_app.py), in import
order. `main` runs `validate`, `dump` and `inspect` on the quick path (quick.py) when their command
line is plain, without importing typer; otherwise it imports only the module of the command it was
asked for (see COMMAND_MODULES), so a command does not pay for the other twenty-five.
`mlspec.cli.app` (the attribute) and `--help` load them all. This package imports no typer itself.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import typer

MODULES: tuple[str, ...] = (
    "spec_commands",
    "inspect_command",
    "updatable_command",
    "edit_commands",
    "surgery_commands",
    "convert_commands",
    "train_command",
    "state_command",
    "use_commands",
    "knn_commands",
    "import_commands",
    "demo_command",
    "federate_command",
)
"""Every command module, in the order `mlspec --help` lists their commands."""

COMMAND_MODULES: dict[str, str] = {
    "validate": "spec_commands",
    "dump": "spec_commands",
    "inspect": "inspect_command",
    "make-updatable": "updatable_command",
    "widen-classifier": "edit_commands",
    "reinit": "edit_commands",
    "narrow-classifier": "surgery_commands",
    "insert-layer": "surgery_commands",
    "remove-layer": "surgery_commands",
    "replace-layer": "surgery_commands",
    "rename-layer": "surgery_commands",
    "set-labels": "surgery_commands",
    "set-image-input": "surgery_commands",
    "convert": "convert_commands",
    "export-onnx": "convert_commands",
    "export-coreml": "convert_commands",
    "train": "train_command",
    "apply-state": "state_command",
    "evaluate": "use_commands",
    "predict": "use_commands",
    "add-examples": "knn_commands",
    "remove-examples": "knn_commands",
    "import-onnx": "import_commands",
    "import-coreml": "import_commands",
    "demo": "demo_command",
    "federate": "federate_command",
}
"""The module that defines each command. tests/cli/test_startup.py checks it against what the
app registers; a command missing here still runs (main then loads every module), only slower."""


def load(modules: tuple[str, ...] = MODULES) -> typer.Typer:
    """Import the command modules (registering their commands) and return the shared app."""
    for name in modules:
        importlib.import_module(f"mlspec.cli.{name}")
    from mlspec.cli.typer_app import app

    return app


def __getattr__(name: str) -> typer.Typer:
    """`from mlspec.cli import app` gives the app with every command registered."""
    if name == "app":
        return load()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main() -> None:
    from mlspec.cli import quick

    code = quick.run(sys.argv[1:])
    if code is not None:
        sys.exit(code)
    command = next((arg for arg in sys.argv[1:] if not arg.startswith("-")), None)
    module = COMMAND_MODULES.get(command or "")
    load((module,) if module else MODULES)(prog_name="mlspec")
