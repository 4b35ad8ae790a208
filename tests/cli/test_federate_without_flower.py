"""Flower 1.42 needs Python 3.11 or later, so on 3.10 `mlspec[federated]` installs without it
(pyproject's marker). `federate` must then say what it needs in one line, not fail on an import."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.cli.conftest import assert_one_line_failure, invoke


def test_federate_without_flower_names_the_extra_and_the_python_it_needs(
    tmp_path: Path, updatable_path: Path, train_npz: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # None in sys.modules makes `import mlspec.federated` raise ImportError, as a missing flwr does.
    monkeypatch.setitem(sys.modules, "mlspec.federated", None)
    out = tmp_path / "global.mlspec"
    result = invoke("federate", updatable_path, "--data", train_npz, "-o", out)
    assert_one_line_failure(result, "Flower 1.42", "Python 3.11 or later", "mlspec[federated]")
    assert not out.exists()
