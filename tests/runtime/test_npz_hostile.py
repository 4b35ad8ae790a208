"""Hostile .npz archives (issue 16): a zip-bomb member is never decompressed unless the model needs
it, and a member the model needs is refused by its declared size before it is read."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mlspec.runtime import npz
from mlspec.runtime.data import DataError, DataFile, as_source
from mlspec.runtime.features import FeatureSpec

X = FeatureSpec("x", "input", np.dtype(np.float32), (4,))
LABEL = FeatureSpec("label", "target", np.dtype(np.int64), (), 3, None, is_class_label=True)
BOMB_BYTES = 64 << 20


def _npy(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


@pytest.fixture(scope="module")
def bomb_archive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _archive_with_bomb(tmp_path_factory.mktemp("npz") / "train.npz")


def _archive_with_bomb(path: Path) -> Path:
    """x and label, plus `bomb`: 64 MiB of zeros that deflate stores in about 64 KB."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("x.npy", _npy(np.ones((5, 4), np.float32)))
        archive.writestr("label.npy", _npy(np.arange(5) % 3))
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(
            header, {"descr": "|u1", "fortran_order": False, "shape": (BOMB_BYTES,)}
        )
        with archive.open("bomb.npy", "w", force_zip64=True) as member:
            member.write(header.getvalue())
            chunk = bytes(1 << 20)
            for _ in range(BOMB_BYTES >> 20):
                member.write(chunk)
    return path


def test_npz_unused_zip_bomb_member_is_never_decompressed(bomb_archive: Path) -> None:
    path = bomb_archive
    assert path.stat().st_size < BOMB_BYTES // 100
    tracemalloc.start()
    try:
        source = as_source(DataFile(path), [X, LABEL], where="training data")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(source) == 5
    assert peak < 8 << 20, f"peak {peak:,} bytes: the unused member was read"


def test_npz_member_past_the_budget_is_refused_before_it_is_read(
    bomb_archive: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = bomb_archive
    monkeypatch.setattr(npz, "budget_bytes", lambda: 16 << 20)
    tracemalloc.start()
    try:
        with pytest.raises(DataError) as caught:
            npz.load_npz(path)  # no features: every member is wanted, the bomb included
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    message = str(caught.value)
    assert message.startswith(f"{path}: array 'bomb' declares 67,108,992 bytes uncompressed"), message
    assert "at most 16,777,216 bytes" in message, message
    assert peak < 8 << 20


def test_npz_header_claiming_more_data_than_its_member_holds_is_refused(tmp_path: Path) -> None:
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f4", "fortran_order": False, "shape": (10**12, 4)}
    )
    path = tmp_path / "train.npz"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("x.npy", header.getvalue() + bytes(80))
        archive.writestr("label.npy", _npy(np.arange(5) % 3))
    with pytest.raises(DataError, match=r"array 'x' declares shape \(1000000000000, 4\) of float32 "):
        npz.load_npz(path, [X, LABEL])


def test_npz_missing_key_names_every_member_even_unread_ones(tmp_path: Path) -> None:
    path = tmp_path / "train.npz"
    np.savez(path, x=np.ones((5, 4), np.float32), features=np.ones((5, 4)))
    with pytest.raises(DataError, match=r"missing 'label'; expected keys: x, label \(got: features, x\)"):
        npz.load_npz(path, [X, LABEL])


@pytest.mark.skipif(not hasattr(os, "mkfifo") or not Path("/dev/zero").exists(), reason="POSIX")
@pytest.mark.parametrize("data_format", ["npz", "csv"])
def test_dev_zero_and_a_fifo_as_data_are_refused_at_once(data_format: str, tmp_path: Path) -> None:
    """In a child with a timeout and a memory limit: a FIFO blocked the first read forever and
    /dev/zero as a CSV read until memory ran out."""
    fifo = tmp_path / f"train.{data_format}"
    os.mkfifo(fifo)
    code = (
        "import resource, sys\nfrom pathlib import Path\n"
        "resource.setrlimit(resource.RLIMIT_AS, (2 << 30, 2 << 30))\n"
        "from tests.runtime.test_npz_hostile import X, LABEL\n"
        "from mlspec.runtime.data import DataError, DataFile\n"
        "for path in sys.argv[2:]:\n"
        "    try:\n        DataFile(Path(path), sys.argv[1]).read([X, LABEL])\n"
        "    except DataError as e:\n        print(e)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, data_format, "/dev/zero", str(fifo)],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    what = "an .npz file" if data_format == "npz" else "a CSV file"
    assert done.stdout.splitlines() == [
        f"/dev/zero: is a character device, not {what}; give the path of a regular file",
        f"{fifo}: is a FIFO (named pipe), not {what}; give the path of a regular file",
    ]


def test_a_csv_past_its_budget_is_refused_before_it_is_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "train.csv"
    path.write_text("x,label\n" + "1.0,0\n" * 1000)
    monkeypatch.setattr(npz, "budget_bytes", lambda: 16 * 1000)
    monkeypatch.setattr("mlspec.runtime.data_files.budget_bytes", lambda: 16 * 1000)
    with pytest.raises(
        DataError, match=r"train\.csv: 6,008 bytes; mlspec reads a CSV whole and at most 1,000"
    ):
        DataFile(path).read([X, LABEL])
