"""Files written atomically get the permissions an ordinary open() would give them."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import mlspec
from mlspec.spec import atomic


def test_saved_spec_is_readable_like_any_new_file(tmp_path: Path) -> None:
    target = tmp_path / "model.mlspec"
    mlspec.save(mlspec.Model(), target)
    plain = tmp_path / "plain"
    plain.write_bytes(b"")
    assert stat.S_IMODE(os.stat(target).st_mode) == stat.S_IMODE(os.stat(plain).st_mode)


def test_write_with_atomic_gives_the_same_permissions(tmp_path: Path) -> None:
    target = tmp_path / "model.onnx"
    atomic.write_with_atomic(target, lambda temp: temp.write_bytes(b"x"))
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o666 & ~atomic._UMASK
