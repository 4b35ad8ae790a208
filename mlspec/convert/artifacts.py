"""Writing a set of artifact files all at once, whichever backend makes them.

Everything is generated into a hidden sibling directory and moved into place only when every
file exists and has passed onnx.checker, so a failed or interrupted conversion never leaves a
half-written artifact directory and never damages artifacts from an earlier run.
"""

from __future__ import annotations

import contextlib
from collections.abc import Collection
from pathlib import Path

import onnx

from mlspec.spec.atomic import directory_beside, replace_directory
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


def staging_directory(target: Path) -> contextlib.AbstractContextManager[Path]:
    """A fresh locked directory next to `target` (same filesystem, so the final swap is atomic)."""
    return directory_beside(target, ".partial")


def move_into_place(staging: Path, target: Path) -> None:
    """Swap the finished set in; the old set, now in `staging`, goes when the staging block ends."""
    replace_directory(staging, target)
