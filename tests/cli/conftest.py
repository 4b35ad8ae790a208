"""Fixtures for the CLI tests: spec files on disk and a runner that checks the error contract."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import Result
from typer.testing import CliRunner

from mlspec.cli import app
from tests.cli import specs


@pytest.fixture
def classifier_path(tmp_path: Path) -> Path:
    return specs.write(specs.classifier(), tmp_path / "classifier.mlspec")


@pytest.fixture
def updatable_path(tmp_path: Path) -> Path:
    return specs.write(specs.updatable_classifier(), tmp_path / "updatable.mlspec")


@pytest.fixture
def train_npz(tmp_path: Path) -> Path:
    return specs.write_blobs(tmp_path / "train.npz", 48)


def invoke(*args: object, env: dict[str, str] | None = None) -> Result:
    environment = {"MLSPEC_DEBUG": "", "COLUMNS": "120", **(env or {})}
    return CliRunner().invoke(app, [str(arg) for arg in args], env=environment)


def assert_one_line_failure(result: Result, *fragments: str) -> str:
    """Exit 1, exactly one `error:` line on stderr naming every fragment, no traceback anywhere."""
    assert result.exit_code == 1, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]
    return lines[0]
