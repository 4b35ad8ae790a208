"""Files a spec names, or a spec path itself, that are not the regular files they pose as.

Findings of the security review (issue 16): a symlinked sidecar disclosed its target, a FIFO
blocked forever, /dev/zero read until memory ran out, tensors sharing one sidecar region
multiplied memory, and the messages said "missing" for a FIFO and "truncated" for a negative
offset.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import mlspec
from mlspec.spec.errors import SpecLoadError
from tests.spec.test_external_weights import _dense, _sidecars


def _external_spec(tmp_path: Path) -> tuple[Path, Path]:
    path = tmp_path / "model.mlspec"
    mlspec.save(_dense(0), path, external_weights_over=1024)
    (sidecar,) = _sidecars(tmp_path)
    return path, sidecar


def test_symlinked_sidecar_is_refused_not_disclosed(tmp_path: Path) -> None:
    path, sidecar = _external_spec(tmp_path)
    secret = tmp_path / "secret"
    secret.write_bytes(b"s3cr3t" * 2000)
    sidecar.unlink()
    sidecar.symlink_to(secret)
    with pytest.raises(SpecLoadError, match=r"is a symbolic link; the weights file of model\.mlspec"):
        mlspec.load(path)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
def test_fifo_sidecar_is_called_a_fifo_not_missing(tmp_path: Path) -> None:
    path, sidecar = _external_spec(tmp_path)
    sidecar.unlink()
    os.mkfifo(sidecar)
    with pytest.raises(SpecLoadError, match=r"is a FIFO \(named pipe\), not the weights file") as caught:
        mlspec.load(path)
    assert "missing" not in str(caught.value)


def test_negative_offset_is_not_called_truncated(tmp_path: Path) -> None:
    path, _ = _external_spec(tmp_path)
    stored = mlspec.load(path, resolve_external=False)
    stored.network.layers[0].inner_product.weights.external.offset = -8
    mlspec.save(stored, path)
    with pytest.raises(SpecLoadError, match="negative offset or length") as caught:
        mlspec.load(path)
    assert "truncated" not in str(caught.value)


def test_tensors_sharing_a_sidecar_region_are_refused(tmp_path: Path) -> None:
    """Eight tensors at one region read the bytes eight times; regions must not overlap."""
    path, _ = _external_spec(tmp_path)
    stored = mlspec.load(path, resolve_external=False)
    layer = stored.network.layers[0].inner_product
    layer.bias.external.CopyFrom(layer.weights.external)
    layer.bias.ClearField("shape")
    layer.bias.shape.extend([32 * 64])
    mlspec.save(stored, path)
    with pytest.raises(SpecLoadError, match=r"two tensors share bytes of model\.mlspec.*own region"):
        mlspec.load(path)


@pytest.mark.skipif(not Path("/dev/zero").exists(), reason="needs /dev/zero")
def test_dev_zero_as_a_spec_is_refused_at_once() -> None:
    with pytest.raises(SpecLoadError, match="/dev/zero: is a character device, not a spec file"):
        mlspec.load("/dev/zero")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="POSIX FIFOs")
def test_fifo_as_a_spec_is_refused_without_blocking(tmp_path: Path) -> None:
    """In a child process with a timeout: the old code blocked forever in open()."""
    fifo = tmp_path / "model.mlspec"
    os.mkfifo(fifo)
    code = (
        "import mlspec, sys\ntry:\n    mlspec.load(sys.argv[1])\n"
        "except mlspec.MlspecError as e:\n    print(e)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(fifo)], capture_output=True, text=True, timeout=60, check=True
    )
    assert "is a FIFO (named pipe), not a spec file" in done.stdout


def test_sidecar_with_a_regular_file_still_loads(tmp_path: Path) -> None:
    path, _ = _external_spec(tmp_path)
    loaded = mlspec.load(path)
    np.testing.assert_array_equal(
        np.frombuffer(loaded.network.layers[0].inner_product.weights.raw_data, dtype=np.float32),
        np.frombuffer(_dense(0).network.layers[0].inner_product.weights.raw_data, dtype=np.float32),
    )
