"""Opening the files a spec names: regular files only, never blocking, never past a budget.

A path that names a FIFO blocks a plain open() forever; /dev/zero reads until memory runs out;
a symbolic link beside a spec, posing as its weights, would copy whatever it points to (a
private key, /etc/passwd) into every model written from the spec. So files are opened without
blocking, checked to be regular with fstat on the open descriptor (no window between check and
use), and read only up to a size budget that the message names.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path
from typing import BinaryIO

from mlspec.spec.errors import SpecLoadError

_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def file_kind(mode: int) -> str:
    """What a file that is not regular is, in words ("a FIFO (named pipe)"), for messages."""
    return next((name for test, name in _KINDS if test(mode)), "not a regular file")


def open_regular(path: Path, what: str, *, follow_symlinks: bool = True) -> BinaryIO:
    """Open `path` for reading if it is a regular file; otherwise say what it is instead.

    `what` names the role ("a spec file", "the weights file of x.mlspec") for the message.
    With follow_symlinks=False a symbolic link is refused rather than followed.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    if not follow_symlinks:
        flags |= getattr(os, "O_NOFOLLOW", 0)
        if path.is_symlink():
            raise SpecLoadError(
                f"{path}: is a symbolic link; {what} must be a regular file, not a link "
                "(copy the file itself there)"
            )
    try:
        descriptor = os.open(path, flags)
    except FileNotFoundError:
        raise SpecLoadError(f"{path}: no such file") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SpecLoadError(f"{path}: is a symbolic link; {what} must be a regular file") from None
        if exc.errno == errno.EISDIR:
            raise SpecLoadError(f"{path}: is a directory, not {what}") from None
        raise SpecLoadError(f"{path}: cannot read {what}: {exc.strerror}") from None
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        raise SpecLoadError(f"{path}: is {file_kind(mode)}, not {what}; give the path of a regular file")
    return os.fdopen(descriptor, "rb")


def read_regular(path: Path, what: str, *, limit: int) -> bytes:
    """The whole content of a regular file of at most `limit` bytes."""
    with open_regular(path, what) as handle:
        size = os.fstat(handle.fileno()).st_size
        if size > limit:
            raise SpecLoadError(f"{path}: {size} bytes, over the limit of {limit} bytes for {what}")
        try:
            data = handle.read(limit + 1)
        except OSError as exc:
            raise SpecLoadError(f"{path}: cannot read {what}: {exc.strerror}") from exc
    if len(data) > limit:  # grew while being read
        raise SpecLoadError(f"{path}: over the limit of {limit} bytes for {what}")
    return data
