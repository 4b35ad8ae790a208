"""The portable state file: a JSON header and raw little-endian tensors, readable in any language.

Layout (docs/portable_state.md): 8 bytes magic `MLSPECST`, a uint64 little-endian header
length, the UTF-8 JSON header, then the tensor bytes. The header holds `tensors`, a list of
`{name, dtype, shape, offset, nbytes}` (offset counted from the first byte after the header,
dtype `float32` or `bool`), and `meta`, a JSON object (step count, hyperparameters, learning
rate, caller properties). Nothing is unpickled; every size is checked against the file before
anything is allocated, so a hostile file is refused by name.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mlspec.spec.atomic import write_bytes_atomic
from mlspec.spec.errors import MlspecError

MAGIC = b"MLSPECST"
_DTYPES = {"float32": np.dtype("<f4"), "bool": np.dtype("?")}
_MAX_HEADER = 64 << 20


def write_state(path: Path, tensors: Mapping[str, npt.NDArray[Any]], meta: Mapping[str, Any]) -> None:
    """Write `tensors` (float32 or bool) and `meta` atomically to `path`."""
    entries, chunks, offset = [], [], 0
    for name, array in tensors.items():
        dtype = "bool" if array.dtype == np.bool_ else "float32"
        data = np.ascontiguousarray(array, dtype=_DTYPES[dtype]).tobytes()
        entries.append(
            {"name": name, "dtype": dtype, "shape": list(array.shape), "offset": offset, "nbytes": len(data)}
        )
        chunks.append(data)
        offset += len(data)
    header = json.dumps(
        {"format": "mlspec-portable-state", "version": 1, "tensors": entries, "meta": dict(meta)}
    )
    encoded = header.encode("utf-8")
    write_bytes_atomic(path, MAGIC + struct.pack("<Q", len(encoded)) + encoded + b"".join(chunks))


def read_state(path: Path) -> tuple[dict[str, npt.NDArray[Any]], dict[str, Any]]:
    """The tensors and meta of a state file; anything malformed is an MlspecError naming `path`."""
    try:
        blob = Path(path).read_bytes()
    except OSError as exc:
        raise MlspecError(f"{path}: cannot read the state file: {exc.strerror}") from exc
    if blob[:8] != MAGIC or len(blob) < 16:
        raise MlspecError(f"{path}: not an mlspec portable state file (no {MAGIC.decode()} header)")
    (length,) = struct.unpack("<Q", blob[8:16])
    if length > min(_MAX_HEADER, len(blob) - 16):
        raise MlspecError(f"{path}: header length {length} runs past the end of the file")
    try:
        header = json.loads(blob[16 : 16 + length].decode("utf-8"))
        body = memoryview(blob)[16 + length :]
        tensors: dict[str, npt.NDArray[Any]] = {}
        for entry in header["tensors"]:
            dtype = _DTYPES[entry["dtype"]]
            shape = tuple(int(d) for d in entry["shape"])
            start, size = int(entry["offset"]), int(entry["nbytes"])
            if (
                start < 0
                or size < 0
                or start + size > len(body)
                or size != dtype.itemsize * int(np.prod(shape))
            ):
                raise ValueError(f"tensor {entry['name']!r} does not fit the file")
            if str(entry["name"]) in tensors:
                raise ValueError(f"tensor {entry['name']!r} appears twice")
            tensors[str(entry["name"])] = (
                np.frombuffer(body[start : start + size], dtype=dtype).reshape(shape).copy()
            )
        meta = dict(header["meta"])
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as exc:
        raise MlspecError(f"{path}: malformed state file ({exc}); write it again") from exc
    return tensors, meta
