"""Writing a set of artifact files all at once, whichever backend makes them.

Everything is generated into a hidden sibling directory and moved into place only when every
file exists and has passed onnx.checker, so a failed or interrupted conversion never leaves a
half-written artifact directory and never damages artifacts from an earlier run.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Collection, Iterator
from pathlib import Path

import onnx

from mlspec.spec.atomic import make_directory_beside
from mlspec.spec.errors import MlspecError


def save_checked(proto: onnx.ModelProto, path: Path, *, checkable: onnx.ModelProto | None = None) -> None:
    """Write the model and run onnx.checker's full check on what was written.

    The model is serialised once and the checker gets those bytes: checking the file instead
    would read and parse every weight again, and checking the proto would serialise it again.
    `checkable` is a stand-in to check instead (a graph whose weights live elsewhere).
    """
    serialized = proto.SerializeToString()
    path.write_bytes(serialized)
    onnx.checker.check_model(serialized if checkable is None else checkable, full_check=True)


def check_target(target: Path, artifact_files: Collection[str]) -> None:
    if target.exists() and not target.is_dir():
        raise MlspecError(f"{target}: exists and is not a directory; give a directory for the artifacts")
    if target.is_dir():
        foreign = sorted(entry.name for entry in target.iterdir() if entry.name not in artifact_files)
        if foreign:
            raise MlspecError(
                f"{target}: holds files that are not mlspec artifacts ({', '.join(foreign[:3])}); "
                "give an empty or new directory"
            )


@contextlib.contextmanager
def staging_directory(target: Path) -> Iterator[Path]:
    """A fresh directory next to `target` (same filesystem, so the final rename is atomic)."""
    staging = make_directory_beside(target, ".partial")
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def move_into_place(staging: Path, target: Path) -> None:
    """Swap the finished set in with renames; the old set is removed only after the new one is in."""
    if not target.exists():
        os.replace(staging, target)
        return
    retired = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=".old"))
    os.replace(target, retired / "set")
    try:
        os.replace(staging, target)
    except BaseException:
        os.replace(retired / "set", target)
        raise
    shutil.rmtree(retired, ignore_errors=True)
