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


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


# Read once at import: os.umask can only be read by setting it, which would race with other
# threads creating files.
_UMASK = _read_umask()


def _make_temp(target: Path) -> tuple[int, str]:
    """A temporary sibling of `target` with the permissions a plain open() would have given.

    mkstemp creates files readable by the owner only; a spec or ONNX model written that way
    could not be shared the way any other file the user writes can.
    """
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    os.fchmod(fd, 0o666 & ~_UMASK)
    return fd, name


def make_directory_beside(target: Path, suffix: str) -> Path:
    """A new hidden directory next to `target`, to fill and then rename onto it in one step.

    mkdtemp makes it owner-only; once renamed into place it is the user's output directory, so
    it gets the permissions a plain mkdir would have given.
    """
    directory = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=suffix))
    os.chmod(directory, 0o777 & ~_UMASK)
    return directory


@contextlib.contextmanager
def atomic_writer(path: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """Yield a binary file that replaces `path` only when the block finishes without error."""
    target = Path(path)
    fd, temp_name = _make_temp(target)
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
    fd, temp_name = _make_temp(target)
    os.close(fd)
    try:
        produce(Path(temp_name))
        os.replace(temp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
