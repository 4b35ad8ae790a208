"""A reader for the IDX files MNIST ships in (train-images-idx3-ubyte and friends), gzipped or not.

The format: two zero bytes, a type byte, the number of dimensions, then each dimension as a
big-endian uint32, then the values, big-endian, in C order. The reader checks all of it
(magic, type, sizes against the file length) so a truncated download fails with its name and
what is missing instead of becoming a silently short data set.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import numpy.typing as npt

from mlspec.spec.errors import MlspecError

_TYPES: dict[int, str] = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_HEADER = 4
_DIM_BYTES = 4
_PAIR_NAMES = {
    "images": ("{split}-images-idx3-ubyte", "{split}-images.idx3-ubyte"),
    "labels": ("{split}-labels-idx1-ubyte", "{split}-labels.idx1-ubyte"),
}


class IdxFormatError(MlspecError):
    """A file is not a well-formed IDX file, or an MNIST directory lacks one of its files."""


def read_idx(path: str | os.PathLike[str]) -> npt.NDArray[np.generic]:
    """The array an IDX file holds, in native byte order; `.gz` files are decompressed."""
    source = Path(path)
    try:
        raw = gzip.decompress(source.read_bytes()) if source.suffix == ".gz" else source.read_bytes()
    except (OSError, EOFError) as exc:
        raise IdxFormatError(f"{source}: cannot read ({exc})") from exc
    return parse_idx(raw, str(source))


def parse_idx(raw: bytes, where: str = "IDX data") -> npt.NDArray[np.generic]:
    if len(raw) < _HEADER or raw[0] != 0 or raw[1] != 0:
        raise IdxFormatError(f"{where}: not an IDX file (the first two bytes must be zero)")
    type_code, ndim = raw[2], raw[3]
    if type_code not in _TYPES:
        known = ", ".join(f"0x{code:02X}" for code in _TYPES)
        raise IdxFormatError(f"{where}: unknown IDX type code 0x{type_code:02X}; known codes: {known}")
    if ndim == 0:
        raise IdxFormatError(f"{where}: an IDX file needs at least one dimension")
    header_end = _HEADER + _DIM_BYTES * ndim
    if len(raw) < header_end:
        raise IdxFormatError(
            f"{where}: truncated header ({len(raw)} bytes, {ndim} dimensions need {header_end})"
        )
    dims = tuple(int(d) for d in np.frombuffer(raw, dtype=">u4", count=ndim, offset=_HEADER))
    dtype = np.dtype(_TYPES[type_code])
    expected = header_end + int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(raw) != expected:
        raise IdxFormatError(
            f"{where}: dimensions {dims} of {dtype.name} need {expected} bytes, the file has {len(raw)}"
        )
    values = np.frombuffer(raw, dtype=dtype, offset=header_end).reshape(dims)
    return values.astype(dtype.newbyteorder("="))


def read_idx_pair(
    directory: str | os.PathLike[str], split: str = "train"
) -> tuple[npt.NDArray[np.generic], npt.NDArray[np.generic]]:
    """MNIST's images and labels for `split` ("train" or "t10k") from a directory of IDX files.

    Both the original names (train-images-idx3-ubyte[.gz]) and the dotted ones some mirrors
    use (train-images.idx3-ubyte) are found.
    """
    root = Path(directory)
    images = read_idx(_find(root, split, "images"))
    labels = read_idx(_find(root, split, "labels"))
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise IdxFormatError(
            f"{root}: {split} images {images.shape} and labels {labels.shape} do not pair up "
            "(expected [N, rows, cols] and [N])"
        )
    return images, labels


def _find(root: Path, split: str, part: str) -> Path:
    candidates = [root / (name.format(split=split) + gz) for name in _PAIR_NAMES[part] for gz in ("", ".gz")]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    tried = ", ".join(c.name for c in candidates)
    raise IdxFormatError(f"{root}: no {split} {part} file; looked for {tried}")
