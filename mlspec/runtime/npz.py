"""Reading an .npz archive of named arrays without trusting the sizes it declares.

An .npz is a zip archive holding one .npy member per array. A hostile or broken archive can
hold a member that a few megabytes of deflate expand to gigabytes (a zip bomb), or an .npy header
whose shape needs far more bytes than its member holds; `np.load` reads whatever it is asked
(an unused 3.2 GB bomb member beside `x` and `label` was decompressed whole). So:

- only the members the model needs are read; any other member is never decompressed;
- before anything is read, the uncompressed sizes the archive declares for those members count
  against a budget (`budget_bytes`, half of this machine's memory), and the limit is in the
  message. zipfile never inflates a member past its declared size, so the declaration bounds
  what a member can cost, whatever its compressed stream holds;
- the shape and dtype in each .npy header must need exactly the bytes its member declares, so a
  header cannot make numpy allocate for data that is not there;
- arrays of Python objects are refused, never unpickled.
"""

from __future__ import annotations

import math
import os
import stat
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import IO

import numpy as np
import numpy.typing as npt

from mlspec.runtime.data_error import DataError, missing_keys_error
from mlspec.runtime.features import FeatureSpec
from mlspec.spec.files import file_kind

Array = npt.NDArray[np.generic]
NPZ_HINT = "write one with np.savez(path, {keys})"
_SUFFIX = ".npy"


def budget_bytes() -> int:
    """How many uncompressed bytes of arrays one .npz may hand over: half the machine's memory."""
    try:
        memory = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):  # a platform without these names
        memory = 8 << 30
    return max(memory // 2, 1 << 30)


def npz_hint(features: Sequence[FeatureSpec]) -> str:
    keys = ", ".join(f"{f.name}=..." for f in features) if features else "x=features, label=labels"
    return NPZ_HINT.format(keys=keys)


def load_npz(path: Path, features: Sequence[FeatureSpec] = ()) -> dict[str, Array]:
    """Read the arrays `features` name (every array when `features` is empty), never unpickling.

    The hint for a wrong file names the keys this model needs, so following it works.
    """
    if path.is_dir():
        raise DataError(f"{path}: is a folder, not an .npz file; give --data-format images for images")
    regular_data_file(path, "an .npz file")
    head = _head(path)
    if head == b"\x93NUMPY":
        raise DataError(
            f"{path}: holds a single array, not an .npz archive of named arrays; {npz_hint(features)}"
        )
    if not head.startswith(b"PK"):
        # np.load would guess "pickle" for any other file and suggest allow_pickle=True.
        raise DataError(f"{path}: not an .npz archive; {npz_hint(features)}")
    try:
        with zipfile.ZipFile(path) as archive:
            members = {
                info.filename.removesuffix(_SUFFIX): info for info in archive.infolist() if not info.is_dir()
            }
            wanted = _wanted(path, members, features)
            _check_budget(path, wanted)
            arrays = {key: _read(path, archive, key, info) for key, info in wanted.items()}
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError) as exc:
        raise DataError(f"{path}: not a readable .npz file ({exc})") from exc
    if not arrays:
        raise DataError(f"{path}: the .npz file holds no arrays; {npz_hint(features)}")
    return arrays


def regular_data_file(path: Path, what: str) -> int:
    """The size of `path` if it is a regular file; otherwise a DataError saying what it is.

    A FIFO given as data blocked the first read forever and /dev/zero as a CSV read until memory
    ran out; neither is opened. (A symbolic link to a regular file is fine: data is only read.)
    """
    try:
        info = path.stat()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except OSError as exc:
        raise DataError(f"{path}: cannot read {what}: {exc.strerror}") from None
    if not stat.S_ISREG(info.st_mode):
        raise DataError(f"{path}: is {file_kind(info.st_mode)}, not {what}; give the path of a regular file")
    return info.st_size


def _head(path: Path) -> bytes:
    with path.open("rb") as handle:
        return handle.read(6)


def _wanted(
    path: Path, members: dict[str, zipfile.ZipInfo], features: Sequence[FeatureSpec]
) -> dict[str, zipfile.ZipInfo]:
    if not features:
        return members
    names = [feature.name for feature in features]
    missing = [name for name in names if name not in members]
    if missing:
        raise missing_keys_error(str(path), missing, names, members)
    return {name: members[name] for name in names}


def _check_budget(path: Path, wanted: dict[str, zipfile.ZipInfo]) -> None:
    limit = budget_bytes()
    for key, info in wanted.items():
        if info.file_size > limit:
            raise DataError(
                f"{path}: array {key!r} declares {info.file_size:,} bytes uncompressed (stored in "
                f"{info.compress_size:,}); mlspec reads at most {limit:,} bytes of arrays from one .npz "
                "(half this machine's memory)"
            )
    total = sum(info.file_size for info in wanted.values())
    if total > limit:
        raise DataError(
            f"{path}: the arrays mlspec needs ({', '.join(wanted)}) declare {total:,} bytes "
            f"uncompressed; mlspec reads at most {limit:,} bytes of arrays from one .npz "
            "(half this machine's memory)"
        )


def _read(path: Path, archive: zipfile.ZipFile, key: str, info: zipfile.ZipInfo) -> Array:
    with archive.open(info) as stream:
        offset, dtype, shape = _header(path, key, stream)
    if dtype.hasobject:
        raise DataError(
            f"{path}: array {key!r} holds Python objects, which mlspec never unpickles; "
            "store numbers or fixed-width strings (for example labels.astype(str))"
        )
    needed = math.prod(shape) * dtype.itemsize
    if offset + needed != info.file_size:
        raise DataError(
            f"{path}: array {key!r} declares shape {tuple(shape)} of {dtype} ({needed:,} bytes) but its "
            f"member holds {info.file_size - offset:,} bytes of data; save it again with np.savez"
        )
    with archive.open(info) as stream:
        array: Array = np.lib.format.read_array(stream, allow_pickle=False)
    return array


def _header(path: Path, key: str, stream: IO[bytes]) -> tuple[int, np.dtype[np.generic], tuple[int, ...]]:
    """The data offset, dtype and shape an .npy member declares, read without its data."""
    try:
        version = np.lib.format.read_magic(stream)
    except ValueError as exc:
        raise DataError(f"{path}: member {key!r} is not an .npy array ({exc})") from exc
    # Version 3.0 differs from 2.0 only in the header's text encoding (utf-8 for field names).
    reader = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    shape, _, dtype = reader(stream)
    return stream.tell(), dtype, tuple(int(d) for d in shape)
