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


def test_past_the_layer_limit_the_default_is_auto(monkeypatch: pytest.MonkeyPatch) -> None:
    """onnxruntime-training's graph passes are quadratic in nodes (ORT_LAYER_LIMIT's docstring has
    the figures), so a caller naming no backend gets the linear portable one for big specs."""
    monkeypatch.setattr(backends, "ort_training_installed", lambda: True)
    assert default_backend(backends.ORT_LAYER_LIMIT) == "ort-training"
    assert default_backend(backends.ORT_LAYER_LIMIT + 1) == "auto"


def test_the_default_for_a_spec_past_the_limit_converts_with_portable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = classifier(hidden=3)
    monkeypatch.setattr(backends, "ort_training_installed", lambda: True)
    monkeypatch.setattr(backends, "ORT_LAYER_LIMIT", len(model.network.layers) - 1)
    assert to_training_artifacts(model, tmp_path / "artifacts").backend == "portable"


@pytest.mark.usefixtures("without_ort_training")
def test_asking_for_ort_training_on_a_spec_past_the_limit_prints_a_note_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec_path = tmp_path / "model.mlspec"
    model = classifier(hidden=3)
    mlspec.save(model, spec_path)
    monkeypatch.setattr(backends, "ORT_LAYER_LIMIT", len(model.network.layers) - 1)
    result = invoke("convert", spec_path, "-o", tmp_path / "artifacts", "--backend", "ort-training")
    note, error = result.stderr.strip().splitlines()
    assert note.startswith(f"note: this spec has {len(model.network.layers)} layers; onnxruntime-training")
    assert "--backend portable or auto converts it much faster" in note
    assert error.startswith("error: backend 'ort-training': onnxruntime-training is not installed")
    portable = invoke("convert", spec_path, "-o", tmp_path / "portable", "--backend", "portable")
    assert portable.exit_code == 0 and "note:" not in portable.stderr, portable.output
