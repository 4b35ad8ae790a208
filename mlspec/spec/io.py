"""Reading and writing spec files.

Binary files (`.mlspec`) are a 16-byte header followed by a serialized `mlspec.v1.Model`:
the 8 magic bytes b"MLSPEC\\x00\\x01" and the payload length as a little-endian uint64. A bare
protobuf cannot tell a truncated file that happens to end on a field boundary from a complete
one, nor an ONNX or Core ML file (whose first fields share our wire types) from a spec; the
header makes both failures certain and cheap to report. Text files (`.pbtxt`) are protobuf text
format, for review and diffs.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from google.protobuf import message as _message

from mlspec._proto import model_pb2
from mlspec.spec import external
from mlspec.spec.atomic import write_bytes_atomic
from mlspec.spec.errors import SpecLoadError
from mlspec.spec.files import read_regular

MAGIC = b"MLSPEC\x00\x01"
_HEADER = struct.Struct("<8sQ")
TEXT_SUFFIXES = (".pbtxt", ".textproto", ".txtpb")
SPEC_VERSION = 3
"""The schema version this library writes; see the changelog in proto/mlspec/v1/model.proto."""
SPEC_BYTES_LIMIT = _HEADER.size + (2 << 30)
"""Protobuf cannot hold a message past 2 GiB; larger weights belong in a sidecar."""

PathLike = str | os.PathLike[str]


def is_text_path(path: PathLike) -> bool:
    return Path(path).suffix.lower() in TEXT_SUFFIXES


def save(model: model_pb2.Model, path: PathLike, *, external_weights_over: int | None = None) -> None:
    """Write `model` atomically: the destination is either the old file or the complete new one.

    With `external_weights_over=N`, tensors of N bytes or more go to a sidecar file beside the
    spec (see mlspec.spec.external), which is how specs past protobuf's 2 GB limit are stored.
    """
    from google.protobuf import text_format  # noqa: PLC0415 (only .pbtxt needs it; readers start faster)

    if model.spec_version == 0:
        model.spec_version = SPEC_VERSION
    target = Path(path)
    if target.is_dir():
        raise SpecLoadError(f"{target}: is a directory; give a file path ending in .mlspec or .pbtxt")
    if not target.parent.exists():
        raise SpecLoadError(f"{target}: folder {target.parent} does not exist")
    stored = (
        model if external_weights_over is None else external.externalize(model, target, external_weights_over)
    )
    if is_text_path(target):
        data = text_format.MessageToString(stored).encode("utf-8")
    else:
        payload = stored.SerializeToString()
        data = _HEADER.pack(MAGIC, len(payload)) + payload
    write_bytes_atomic(target, data)
    external.remove_stale_sidecars(stored, target)


def load(path: PathLike, *, resolve_external: bool = True) -> model_pb2.Model:
    """Read a spec, naming the file and the problem when it is not a readable spec.

    Weights kept in a sidecar file are read back in unless `resolve_external` is False (for
    tools that only look at the structure of a spec too large to hold in memory).
    """
    source = Path(path)
    data = read_regular(source, "a spec file (.mlspec or .pbtxt)", limit=SPEC_BYTES_LIMIT)
    if data.startswith(MAGIC) or (len(data) < len(MAGIC) and MAGIC.startswith(data) and data):
        model = _parse_binary(source, data)
    elif is_text_path(source):
        model = _parse_text(source, data)
    else:
        raise SpecLoadError(f"{source}: {_describe_foreign(data)}")
    if resolve_external:
        external.resolve(model, source)
    return model


def _parse_binary(source: Path, data: bytes) -> model_pb2.Model:
    if len(data) < _HEADER.size:
        raise SpecLoadError(f"{source}: truncated: {len(data)} bytes, shorter than the spec header")
    _, length = _HEADER.unpack_from(data)
    available = len(data) - _HEADER.size
    if available < length:
        raise SpecLoadError(
            f"{source}: truncated: header promises {length} bytes of model, file holds {available}"
        )
    if available > length:
        raise SpecLoadError(f"{source}: {available - length} unexpected bytes after the model")
    try:
        # A memoryview avoids copying the payload; protobuf accepts any bytes-like object.
        model = model_pb2.Model.FromString(memoryview(data)[_HEADER.size :])  # type: ignore[arg-type]
    except _message.DecodeError as exc:
        raise SpecLoadError(f"{source}: corrupt spec payload: {exc}") from exc
    return _check_version(source, model)


def _parse_text(source: Path, data: bytes) -> model_pb2.Model:
    from google.protobuf import text_format  # noqa: PLC0415 (only .pbtxt specs need it)

    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise SpecLoadError(
            f"{source}: not UTF-8 text, so not a .pbtxt spec ({_describe_foreign(data)})"
        ) from exc
    model = model_pb2.Model()
    try:
        text_format.Parse(text, model)
    except text_format.ParseError as exc:
        raise SpecLoadError(f"{source}: invalid spec text: {exc}") from exc
    return _check_version(source, model)


def _check_version(source: Path, model: model_pb2.Model) -> model_pb2.Model:
    if model.spec_version > SPEC_VERSION:
        raise SpecLoadError(
            f"{source}: spec_version {model.spec_version} is newer than this mlspec supports "
            f"({SPEC_VERSION}); upgrade mlspec"
        )
    return model


def _describe_foreign(data: bytes) -> str:
    """Say what a non-spec file most likely is, so the user knows which command to use instead."""
    if not data:
        return "empty file, not a spec"
    kind = sniff_foreign_format(data)
    if kind == "onnx":
        return "this is an ONNX model, not an mlspec spec; convert it with `mlspec import-onnx`"
    if kind == "coreml":
        return "this is a Core ML model, not an mlspec spec; convert it with `mlspec import-coreml`"
    return "not an mlspec spec (no MLSPEC header); expected a .mlspec file or .pbtxt text"


# Core ML's Model message keeps its model types at field numbers 200 and above; a spec, an ONNX
# model and random bytes practically never start with such a field after a version varint.
_COREML_FIRST_TYPE_FIELD = 200


def sniff_foreign_format(data: bytes) -> str | None:
    """Return "onnx", "coreml" or None by reading top-level protobuf tags only."""
    fields = _top_level_fields(data)
    if not fields or fields[0] != 1:
        return None
    if any(number >= _COREML_FIRST_TYPE_FIELD for number in fields):
        return "coreml"
    # ONNX ModelProto: 1 ir_version, 7 graph, 8 opset_import.
    if 7 in fields and 8 in fields:
        return "onnx"
    return None


def _top_level_fields(data: bytes, limit: int = 64) -> list[int]:
    numbers: list[int] = []
    pos = 0
    try:
        while pos < len(data) and len(numbers) < limit:
            tag, pos = _varint(data, pos)
            number, wire = tag >> 3, tag & 7
            if number == 0:
                return []
            if wire == 0:
                _, pos = _varint(data, pos)
            elif wire == 1:
                pos += 8
            elif wire == 2:
                size, pos = _varint(data, pos)
                pos += size
            elif wire == 5:
                pos += 4
            else:
                return []
            if pos > len(data):
                break
            numbers.append(number)
    except IndexError:
        pass
    return numbers


def _varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise IndexError("varint too long")
