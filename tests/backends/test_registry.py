"""Which backend a caller gets without naming one, and the refusal where ort-training is absent.

Run where onnxruntime-training is installed, the absence is simulated by replacing the probe; in
the Python 3.13 suite (tools/ci/py313.sh) it is real.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import mlspec
from mlspec import backends
from mlspec.backends import default_backend, get_backend, to_training_artifacts
from mlspec.spec.errors import MlspecError
from tests.cli.conftest import assert_one_line_failure, invoke
from tests.runtime.models import blobs, classifier

REFUSAL = r"backend 'ort-training': onnxruntime-training is not installed .* use --backend portable or auto"


@pytest.fixture
def without_ort_training(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backends, "ort_training_installed", lambda: False)


def test_the_default_is_ort_training_where_installed_else_auto(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backends, "ort_training_installed", lambda: True)
    assert default_backend() == "ort-training"
    monkeypatch.setattr(backends, "ort_training_installed", lambda: False)
    assert default_backend() == "auto"


@pytest.mark.usefixtures("without_ort_training")
def test_without_ort_training_the_default_trains_on_the_portable_backend(tmp_path: Path) -> None:
    manifest = to_training_artifacts(classifier(hidden=3), tmp_path / "artifacts")
    assert manifest.backend == "portable"
    with pytest.raises(MlspecError, match=REFUSAL):
        get_backend("ort-training")
    with pytest.raises(MlspecError, match=REFUSAL):
        to_training_artifacts(classifier(hidden=3), tmp_path / "ort", backend="ort-training")
    assert not (tmp_path / "ort").exists()


@pytest.mark.usefixtures("without_ort_training")
def test_cli_asking_for_ort_training_without_it_fails_in_one_line(tmp_path: Path) -> None:
    spec_path, data = tmp_path / "model.mlspec", tmp_path / "train.npz"
    mlspec.save(classifier(hidden=3), spec_path)
    x, y = blobs(16, seed=3)
    np.savez(data, x=x, label=y)
    for command in (
        ("convert", spec_path, "-o", tmp_path / "artifacts", "--backend", "ort-training"),
        ("train", spec_path, "--data", data, "-o", tmp_path / "out.mlspec", "--backend", "ort-training"),
    ):
        line = assert_one_line_failure(invoke(*command), "onnxruntime-training is not installed")
        assert "--backend portable" in line
    assert not (tmp_path / "artifacts").exists() and not (tmp_path / "out.mlspec").exists()
    trained = invoke("train", spec_path, "--data", data, "-o", tmp_path / "out.mlspec")
    assert trained.exit_code == 0, trained.output
