"""Atomic file writes: a failed, cancelled or killed run must never leave a damaged file behind.

Data goes to a temporary file in the destination directory (so the final rename stays on one
filesystem), is flushed to disk, and only then replaces the destination in one os.replace.
A directory (convert's artifact set) is filled beside its destination and swapped with it in one
step where the system can (Linux renameat2, macOS renamex_np), so a kill at any instant leaves
the old set or the new one under the destination's name, never neither.

A killed run cannot remove its hidden temporaries, so each is locked (flock) by the run that
made it for as long as it lives; the next write beside the same destination removes those no
live run holds (`sweep_beside`).
"""

from __future__ import annotations

import contextlib
import errno
import glob
import os
import shutil
import tempfile
import time
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


# The suffixes of the hidden temporaries made beside a destination: files, directories being
# filled, and (where directories cannot be swapped) the old set moved aside.
TEMP_SUFFIXES = (".tmp", ".partial", ".old")
# A temporary is swept only when no run holds its lock and it is this old: the creator takes the
# lock just after creating it, and the age closes that gap.
STALE_SECONDS = 60.0


def _lock(fd: int) -> None:
    with contextlib.suppress(ImportError, OSError):
        import fcntl  # noqa: PLC0415 (POSIX only; elsewhere stale temporaries are simply kept)

        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


def _held_by_a_live_run(path: Path) -> bool:
    try:
        import fcntl  # noqa: PLC0415
    except ImportError:
        return True
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return True  # vanished, or not ours to judge
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return True
    finally:
        os.close(fd)
    return False


def sweep_beside(target: Path) -> None:
    """Remove the hidden temporaries that killed runs left beside `target`.

    A directory moved aside as `.{name}.*.old/set` while `target` is missing is the old set a
    run killed mid-swap left behind (only where directories cannot be swapped): it is put back.
    """
    now = time.time()
    for path in target.parent.glob(f".{glob.escape(target.name)}.*"):
        if not path.name.endswith(TEMP_SUFFIXES) or path.is_symlink():
            continue
        with contextlib.suppress(OSError):
            if now - path.lstat().st_mtime < STALE_SECONDS or _held_by_a_live_run(path):
                continue
            if path.name.endswith(".old") and (path / "set").is_dir() and not target.exists():
                os.replace(path / "set", target)
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink()


def _make_temp(target: Path) -> tuple[int, str]:
    """A locked temporary sibling of `target` with the permissions a plain open() would give.

    mkstemp creates files readable by the owner only; a spec or ONNX model written that way
    could not be shared the way any other file the user writes can.
    """
    sweep_beside(target)
    fd, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    _lock(fd)
    os.fchmod(fd, 0o666 & ~_UMASK)
    return fd, name


@contextlib.contextmanager
def directory_beside(target: Path, suffix: str) -> Iterator[Path]:
    """A new hidden directory next to `target`, locked while the block runs, removed after it.

    Filled and then swapped onto `target` (`replace_directory`). mkdtemp makes it owner-only;
    once in place it is the user's output directory, so it gets a plain mkdir's permissions.
    """
    sweep_beside(target)
    directory = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}.", suffix=suffix))
    fd = os.open(directory, os.O_RDONLY)
    try:
        _lock(fd)
        os.chmod(directory, 0o777 & ~_UMASK)
        yield directory
    finally:
        os.close(fd)
        shutil.rmtree(directory, ignore_errors=True)


def replace_directory(new: Path, target: Path) -> None:
    """Put the finished directory `new` in place of `target`; `new` then holds the old set, if any.

    Swapped in one step where the system can; elsewhere the old set is first moved aside into a
    locked `.old` directory, which `sweep_beside` puts back if the run dies before the second
    rename.
    """
    if not target.exists():
        os.replace(new, target)
        return
    if _exchange(new, target):
        return
    with directory_beside(target, ".old") as retired:
        os.replace(target, retired / "set")
        try:
            os.replace(new, target)
        except BaseException:
            os.replace(retired / "set", target)
            raise
        os.replace(retired / "set", new)


def _exchange(first: Path, second: Path) -> bool:
    """Swap two paths atomically; False where the system or filesystem has no such call."""
    import ctypes  # noqa: PLC0415 (only a swap needs it; reading a spec should not load it)

    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:
        return False
    if hasattr(libc, "renameat2"):  # Linux: renameat2(AT_FDCWD, a, AT_FDCWD, b, RENAME_EXCHANGE)
        result = libc.renameat2(-100, os.fsencode(first), -100, os.fsencode(second), 2)
    elif hasattr(libc, "renamex_np"):  # macOS: renamex_np(a, b, RENAME_SWAP)
        result = libc.renamex_np(os.fsencode(first), os.fsencode(second), 2)
    else:
        return False
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(code, os.strerror(code), str(second))


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


def write_with_atomic(path: str | os.PathLike[str], produce: Callable[[Path], object]) -> None:
    """Let `produce` write a temporary sibling path, then move it over `path`.

    For writers that insist on a file name (onnx.save, ORT checkpoints) rather than a handle.
    """
    target = Path(path)
    fd, temp_name = _make_temp(target)
    try:
        produce(Path(temp_name))  # fd stays open so that the temporary stays locked
        os.replace(temp_name, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp_name)
        raise
    finally:
        os.close(fd)
