"""Proving a Core ML network well-formed before mapping reads it (see docs/security.md).

Mapping code reads `layer.input[0]`, a classifier's last layer, channel counts as int64: a file
with a layer that has no inputs, a network with no layers, or a count of 2^63 would fail deep in
a mapper. These checks name the layer and the rule instead:

- every layer reads at least one tensor and writes at least one, and reads only model inputs or
  outputs of earlier layers;
- every integer parameter of a layer (channels, kernel sizes, strides, shapes) lies within
  [-2^31, 2^31 - 1], the range Core ML itself stores them in;
- names stay under the same length budget as ONNX names.
"""

from __future__ import annotations

from typing import Any

from google.protobuf import descriptor
from google.protobuf.message import Message

from mlspec.convert.importers.coreml_training import CoreMLImportError
from mlspec.convert.importers.onnx_checks import MAX_NAME_CHARS
from mlspec.spec.errors import layer_ref

_LOWEST, _HIGHEST = -(2**31), 2**31 - 1
_INTEGER_TYPES = frozenset(
    {
        descriptor.FieldDescriptor.CPPTYPE_INT32,
        descriptor.FieldDescriptor.CPPTYPE_INT64,
        descriptor.FieldDescriptor.CPPTYPE_UINT32,
        descriptor.FieldDescriptor.CPPTYPE_UINT64,
    }
)


def check_network(layers: Any, description: Any, where: str) -> None:
    if not len(layers):
        raise CoreMLImportError(f"{where}: the network has no layers")
    available = {feature.name for feature in description.input}
    for index, layer in enumerate(layers):
        label = layer_ref(layer.name, index)
        for name in (layer.name, *layer.input, *layer.output):
            if len(name) > MAX_NAME_CHARS:
                raise CoreMLImportError(
                    f"{where}: {label} uses a name of {len(name):,} characters; at most {MAX_NAME_CHARS}"
                )
        if not layer.input or not layer.output:
            raise CoreMLImportError(
                f"{where}: {label} has {len(layer.input)} inputs and {len(layer.output)} outputs; "
                "a layer reads and writes at least one tensor"
            )
        for name in layer.input:
            if name not in available:
                raise CoreMLImportError(
                    f'{where}: {label} reads "{_short(name)}", which no model input or earlier layer produces'
                )
        which = layer.WhichOneof("layer")
        if which is not None:
            _check_integers(getattr(layer, which), f"{label}.{which}", where)
        available.update(layer.output)


def _check_integers(message: Message, path: str, where: str) -> None:
    for field, value in message.ListFields():
        if field.type == descriptor.FieldDescriptor.TYPE_MESSAGE:
            for child in value if field.is_repeated else [value]:
                _check_integers(child, f"{path}.{field.name}", where)
        elif field.cpp_type in _INTEGER_TYPES:
            for number in value if field.is_repeated else [value]:
                if not _LOWEST <= number <= _HIGHEST:
                    raise CoreMLImportError(
                        f"{where}: {path}.{field.name} = {number}; allowed values are {_LOWEST} to {_HIGHEST}"
                    )


def _short(name: str) -> str:
    clean = "".join(ch if ch.isprintable() else "?" for ch in name[:60])
    return clean + ("..." if len(name) > 60 else "")
