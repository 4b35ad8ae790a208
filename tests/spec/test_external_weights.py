"""Weights kept beside the spec: round trip, atomic replacement, and clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import mlspec
from mlspec._proto import model_pb2
from mlspec.spec import io, weights
from mlspec.spec.errors import SpecLoadError


def _dense(seed: int) -> model_pb2.Model:
    rng = np.random.default_rng(seed)
    model = model_pb2.Model(spec_version=1)
    layer = model.network.layers.add(name="fc", inputs=["x"], outputs=["y"])
    layer.inner_product.input_channels, layer.inner_product.output_channels = 64, 32
    layer.inner_product.has_bias = True
    weights.set_tensor(layer.inner_product.weights, rng.normal(size=(32, 64)).astype(np.float32))
    weights.set_tensor(layer.inner_product.bias, rng.normal(size=32).astype(np.float32))
    return model


def _sidecars(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.weights"))


@pytest.mark.parametrize("name", ["model.mlspec", "model.pbtxt"])
def test_large_tensors_go_to_one_sidecar_and_come_back(tmp_path: Path, name: str) -> None:
    model, path = _dense(0), tmp_path / name
    mlspec.save(model, path, external_weights_over=1024)
    (sidecar,) = _sidecars(tmp_path)
    assert sidecar.stat().st_size == 32 * 64 * 4  # the 128-byte bias stays inline
    stored = mlspec.load(path, resolve_external=False)
    assert stored.network.layers[0].inner_product.weights.WhichOneof("storage") == "external"
    assert stored.network.layers[0].inner_product.bias.WhichOneof("storage") == "raw_data"
    assert mlspec.load(path) == model


def test_resaving_replaces_the_sidecar_and_removes_the_old_one(tmp_path: Path) -> None:
    path = tmp_path / "model.mlspec"
    mlspec.save(_dense(0), path, external_weights_over=1024)
    (first,) = _sidecars(tmp_path)
    mlspec.save(_dense(1), path, external_weights_over=1024)
    (second,) = _sidecars(tmp_path)
    assert first != second and mlspec.load(path) == _dense(1)
    mlspec.save(_dense(2), path)  # all inline again: no sidecar left behind
    assert _sidecars(tmp_path) == [] and mlspec.load(path) == _dense(2)


def test_a_failed_save_keeps_the_old_spec_and_its_sidecar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "model.mlspec"
    mlspec.save(_dense(0), path, external_weights_over=1024)

    def refuse(*_: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(io, "write_bytes_atomic", refuse)
    with pytest.raises(OSError):
        mlspec.save(_dense(1), path, external_weights_over=1024)
    monkeypatch.undo()
    assert mlspec.load(path) == _dense(0)


def test_missing_sidecar_names_the_spec_and_the_file(tmp_path: Path) -> None:
    path = tmp_path / "model.mlspec"
    mlspec.save(_dense(0), path, external_weights_over=1024)
    (sidecar,) = _sidecars(tmp_path)
    sidecar.unlink()
    with pytest.raises(SpecLoadError, match=r"model\.mlspec: its weights file .*\.weights is missing"):
        mlspec.load(path)


def test_truncated_sidecar_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "model.mlspec"
    mlspec.save(_dense(0), path, external_weights_over=1024)
    (sidecar,) = _sidecars(tmp_path)
    sidecar.write_bytes(sidecar.read_bytes()[:100])
    with pytest.raises(SpecLoadError, match="truncated: needs 8192 bytes, holds 100"):
        mlspec.load(path)


def test_a_location_outside_the_spec_folder_is_refused(tmp_path: Path) -> None:
    model = _dense(0)
    model.network.layers[0].inner_product.weights.external.location = "../elsewhere.weights"
    path = tmp_path / "model.mlspec"
    mlspec.save(model, path)
    with pytest.raises(SpecLoadError, match="must be a file name beside the spec"):
        mlspec.load(path)
