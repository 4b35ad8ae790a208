"""Weights kept beside the spec file, for specs past protobuf's 2 GB message limit.

`save(model, path, external_weights_over=N)` moves every tensor of N bytes or more into one
sidecar file, `<spec file name>.<digest>.weights`. The name carries a digest of the content, so
a new save never overwrites the sidecar an existing spec still points to: the spec is replaced
atomically first, and only then is the old sidecar removed. A crash at any point leaves a spec
whose sidecar is present. `load` reads the tensors back into `raw_data`, so nothing else in
mlspec needs to know where the bytes were kept.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import re
from pathlib import Path

from mlspec._proto import model_pb2, tensor_pb2
from mlspec.spec.atomic import atomic_writer
from mlspec.spec.errors import SpecLoadError
from mlspec.spec.files import open_regular
from mlspec.spec.kinds import layer_tensors
from mlspec.spec.text import shown

_DIGEST_CHARS = 16


def _sidecar_pattern(spec_path: Path) -> re.Pattern[str]:
    return re.compile(re.escape(spec_path.name) + rf"\.[0-9a-f]{{{_DIGEST_CHARS}}}\.weights")


def _all_tensors(model: model_pb2.Model) -> list[tensor_pb2.Tensor]:
    return [tensor for layer in model.network.layers for _, tensor in layer_tensors(layer)]


def externalize(model: model_pb2.Model, spec_path: Path, min_bytes: int) -> model_pb2.Model:
    """Write the large tensors of `model` to a sidecar and return a copy that points at it."""
    result = model_pb2.Model()
    result.CopyFrom(model)
    chosen = [
        (tensor, tensor.raw_data)
        for tensor in _all_tensors(result)
        if tensor.WhichOneof("storage") == "raw_data" and len(tensor.raw_data) >= min_bytes
    ]
    if not chosen:
        return result
    import hashlib  # noqa: PLC0415 (OpenSSL loads in ~5 ms; only sidecar weights need it)

    digest = hashlib.sha256()
    for _, data in chosen:
        digest.update(data)
    sidecar = spec_path.with_name(f"{spec_path.name}.{digest.hexdigest()[:_DIGEST_CHARS]}.weights")
    offset = 0
    with atomic_writer(sidecar) as handle:
        for tensor, data in chosen:
            handle.write(data)
            tensor.external.location = sidecar.name
            tensor.external.offset = offset
            tensor.external.length = len(data)
            offset += len(data)
    return result


def remove_stale_sidecars(model: model_pb2.Model, spec_path: Path) -> None:
    """Delete sidecars of this spec file that the spec now on disk no longer references."""
    wanted = {t.external.location for t in _all_tensors(model) if t.WhichOneof("storage") == "external"}
    pattern = _sidecar_pattern(spec_path)
    for candidate in spec_path.parent.iterdir():
        if pattern.fullmatch(candidate.name) and candidate.name not in wanted:
            with contextlib.suppress(FileNotFoundError):
                candidate.unlink()


def resolve(model: model_pb2.Model, spec_path: Path) -> None:
    """Read every externally stored tensor back into raw_data.

    Each sidecar must be a regular file beside the spec, not a link: a link would disclose its
    target to every model written from the spec. Tensors must lie inside the file in regions
    that do not overlap (as `externalize` writes them), so the bytes read never exceed the
    file's size however many tensors point into it.
    """
    regions: dict[str, list[tuple[int, int, tensor_pb2.Tensor]]] = {}
    for tensor in _all_tensors(model):
        if tensor.WhichOneof("storage") != "external":
            continue
        location = tensor.external.location
        if not location or Path(location).name != location or location in (".", ".."):
            raise SpecLoadError(
                f"{spec_path}: external weights location {shown(location)!r} must be a file name "
                "beside the spec"
            )
        start, length = tensor.external.offset, tensor.external.length
        if start < 0 or length < 0:
            raise SpecLoadError(
                f"{spec_path}: a tensor in {shown(location)!r} has a negative offset or length "
                f"(offset {start}, length {length}); both must be >= 0"
            )
        regions.setdefault(location, []).append((start, length, tensor))
    for location, spans in regions.items():
        _read_sidecar(spec_path, spec_path.parent / location, spans)


def _read_sidecar(spec_path: Path, sidecar: Path, spans: list[tuple[int, int, tensor_pb2.Tensor]]) -> None:
    spans.sort(key=lambda span: span[0])
    for (start, length, _), (next_start, _, _) in itertools.pairwise(spans):
        if start + length > next_start:
            raise SpecLoadError(
                f"{spec_path}: two tensors share bytes of {sidecar.name} (at offsets {start} and "
                f"{next_start}); each tensor needs its own region of the weights file"
            )
    if not sidecar.is_symlink() and not sidecar.exists():
        raise SpecLoadError(f"{spec_path}: its weights file {sidecar} is missing; copy it beside the spec")
    with open_regular(sidecar, f"the weights file of {spec_path.name}", follow_symlinks=False) as handle:
        size = os.fstat(handle.fileno()).st_size
        end = spans[-1][0] + spans[-1][1]
        if end > size:
            raise SpecLoadError(
                f"{spec_path}: weights file {sidecar} is truncated: needs {end} bytes, holds {size}"
            )
        for start, length, tensor in spans:
            handle.seek(start)
            tensor.raw_data = handle.read(length)
