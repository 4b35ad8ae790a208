"""Every command the issue names exists, and its --help ends with a runnable example."""

from __future__ import annotations

import click
import typer

from mlspec.cli import app
from tests.cli.conftest import invoke

COMMANDS = {
    "make-updatable",
    "inspect",
    "validate",
    "dump",
    "convert",
    "export-onnx",
    "train",
    "widen-classifier",
    "reinit",
    "import-onnx",
    "import-coreml",
}


def test_every_command_is_registered_and_shows_an_example() -> None:
    group = typer.main.get_command(app)
    assert isinstance(group, click.Group)
    registered = set(group.commands)
    assert registered >= COMMANDS
    for name in sorted(registered):
        result = invoke(name, "--help")
        assert result.exit_code == 0, result.output
        assert f"Example: mlspec {name} " in result.stdout, name


def test_resume_without_a_checkpoint_directory_is_a_usage_error() -> None:
    result = invoke("train", "model.mlspec", "--data", "train.npz", "-o", "out.mlspec", "--resume")
    assert result.exit_code == 2
    assert "--checkpoint-dir" in result.output
