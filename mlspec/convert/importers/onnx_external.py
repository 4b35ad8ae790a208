"""Reading an ONNX file and its external data without leaving the model's folder.

onnx.load follows whatever an external-data entry names: a symlink beside the model pointing at
/etc/passwd becomes a weight, then a spec sidecar, then an exported file. So external data is
read here instead, by rules a hostile file cannot bend (docs/security.md):

- the location is relative, has no "..", and resolves inside the model's folder;
- the file is opened without following a final symlink and must be a regular file;
- offset and length are non-negative and lie inside the file, and the length is exactly what
  the tensor's dims and dtype need, so nothing is allocated that the file does not hold.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path, PurePosixPath

import onnx

from mlspec.convert.importers.onnx_checks import OnnxImportError, check_tensor, declared_elements, raw_bytes


def read_model_file(path: Path) -> onnx.ModelProto:
    """The model in `path` with its external data inlined; refuses what is not a regular file."""
    try:
        mode = path.stat().st_mode
    except OSError:
        raise OnnxImportError(f"{path}: no such ONNX file") from None
    if not stat.S_ISREG(mode):
        raise OnnxImportError(f"{path}: not a regular file (a directory, device or pipe); give an .onnx file")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as exc:  # onnx raises DecodeError, OSError or its own errors
        raise OnnxImportError(f"{path}: not a readable ONNX model ({type(exc).__name__}: {exc})") from exc
    inline_external_data(model, path.parent, str(path))
    return model


def inline_external_data(model: onnx.ModelProto, folder: Path | None, where: str) -> None:
    """Replace every external-data reference of the top-level graph by the bytes it names."""
    for tensor in _tensors(model.graph):
        if tensor.data_location != onnx.TensorProto.EXTERNAL:
            continue
        label = f'tensor "{tensor.name}"'
        if folder is None:
            raise OnnxImportError(
                f"{where}: {label} keeps its data in an external file; import the model from its file path"
            )
        check_tensor(tensor, label, where)
        count = declared_elements(tensor.dims, label, where)
        entries = {entry.key: entry.value for entry in tensor.external_data}
        size = raw_bytes(tensor.data_type, count)
        tensor.raw_data = _read_region(folder, entries, size, label, where)
        del tensor.external_data[:]
        tensor.data_location = onnx.TensorProto.DEFAULT


def _tensors(graph: onnx.GraphProto) -> list[onnx.TensorProto]:
    found = list(graph.initializer)
    for node in graph.node:
        for attr in node.attribute:
            if attr.HasField("t"):
                found.append(attr.t)
            found.extend(attr.tensors)
            if attr.HasField("g"):
                found.extend(_tensors(attr.g))
            for sub in attr.graphs:
                found.extend(_tensors(sub))
    return found


def _read_region(folder: Path, entries: dict[str, str], size: int, label: str, where: str) -> bytes:
    location = entries.get("location", "")
    relative = PurePosixPath(location.replace("\\", "/"))
    if not location or relative.is_absolute() or ".." in relative.parts or "\x00" in location:
        raise OnnxImportError(
            f'{where}: {label} names external data "{location}"; it must be a file name relative to the '
            "model's folder, without .."
        )
    offset = _number(entries, "offset", 0, label, where)
    length = _number(entries, "length", size, label, where)
    if length != size:
        raise OnnxImportError(f"{where}: {label} has {length:,} bytes of external data; dims need {size:,}")
    base = folder.resolve()
    target = base.joinpath(*relative.parts)
    if not target.parent.resolve().is_relative_to(base):
        raise OnnxImportError(f'{where}: {label} external data "{location}" lies outside the model\'s folder')
    try:
        fd = os.open(target, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
    except OSError as exc:
        what = "is a symlink" if target.is_symlink() else f"cannot be opened ({exc.strerror})"
        raise OnnxImportError(
            f'{where}: {label} external data "{location}" {what}; it must be a regular file in the '
            "model's folder"
        ) from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise OnnxImportError(f'{where}: {label} external data "{location}" is not a regular file')
        if offset + size > info.st_size:
            raise OnnxImportError(
                f'{where}: {label} needs bytes {offset:,} to {offset + size:,} of "{location}", '
                f"which has {info.st_size:,}"
            )
        handle.seek(offset)
        return handle.read(size)


def _number(entries: dict[str, str], key: str, default: int, label: str, where: str) -> int:
    text = entries.get(key)
    if text is None:
        return default
    if not text.isdigit() or len(text) > 18:
        raise OnnxImportError(
            f'{where}: {label} external data {key} "{text[:40]}" is not a non-negative whole number'
        )
    return int(text)
