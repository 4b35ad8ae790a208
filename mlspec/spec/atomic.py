"""Atomic file writes: a failed or cancelled run must never leave a damaged file behind.

Data goes to a temporary file in the destination directory (so the final rename stays on one
filesystem), is flushed to disk, and only then replaces the destination in one os.replace.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Yield a binary file that replaces `path` only when the block finishes without error."""
    target = Path(path)
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise


def write_bytes_atomic(path: str | os.PathLike[str], data: bytes | memoryview) -> None:
    with atomic_writer(path) as handle:
        handle.write(data)


def write_with_atomic(path: str | os.PathLike[str], produce: Callable[[Path], None]) -> None:
    """Let `produce` write a temporary sibling path, then move it over `path`.

    For writers that insist on a file name (onnx.save, ORT checkpoints) rather than a handle.
    """
    target = Path(path)
    fd, temp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    try:
        produce(Path(temp_name))
        os.replace(temp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
