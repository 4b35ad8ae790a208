"""What is known about a tensor flowing through a spec: its dtype and (partly symbolic) dims.

Kept apart from the inference loop so that the per-kind rules and their callers share one type
without importing each other.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mlspec._proto import tensor_pb2

Dim = int | str | None
"""A fixed size, a symbolic name such as "batch", or None when nothing is known."""

STRING = -1
"""dtype code for string features, which tensor_pb2.DataType has no member for."""
UNKNOWN_DTYPE = tensor_pb2.DATA_TYPE_UNSPECIFIED
BATCH = "batch"

FLOAT_DTYPES = (tensor_pb2.FLOAT32, tensor_pb2.FLOAT16, tensor_pb2.DOUBLE)
INTEGER_DTYPES = (tensor_pb2.INT64, tensor_pb2.INT32)

DTYPE_NAMES: dict[int, str] = {
    tensor_pb2.FLOAT32: "float32",
    tensor_pb2.FLOAT16: "float16",
    tensor_pb2.DOUBLE: "float64",
    tensor_pb2.INT64: "int64",
    tensor_pb2.INT32: "int32",
    tensor_pb2.INT8: "int8",
    tensor_pb2.UINT8: "uint8",
    tensor_pb2.BOOL: "bool",
    STRING: "string",
}
"""A feature's dtype as the manifest and the runtime name it (numpy's spelling); the one table
from spec dtype codes to names, so a trainer built from a spec and one built from artifacts
agree on every feed."""

ONNX_ELEMENT_TYPES: dict[int, int] = {
    tensor_pb2.FLOAT32: 1,
    tensor_pb2.UINT8: 2,
    tensor_pb2.INT8: 3,
    tensor_pb2.INT32: 6,
    tensor_pb2.INT64: 7,
    STRING: 8,
    tensor_pb2.BOOL: 9,
    tensor_pb2.FLOAT16: 10,
    tensor_pb2.DOUBLE: 11,
}
"""Each spec dtype's ONNX element type (onnx.TensorProto's numbers, which the ONNX standard
fixes; the spec layer does not import onnx): the one table for convert's graphs and validate's
inference of generic nodes. tests/spec/test_onnx_element_types.py checks it against onnx."""


@dataclass(frozen=True)
class TensorInfo:
    """What is known about one tensor. dims is None when even the rank is unknown."""

    dtype: int
    dims: tuple[Dim, ...] | None

    @property
    def rank(self) -> int | None:
        return None if self.dims is None else len(self.dims)

    @property
    def is_float(self) -> bool:
        return self.dtype in FLOAT_DTYPES

    @property
    def is_integer(self) -> bool:
        return self.dtype in INTEGER_DTYPES

    def __str__(self) -> str:
        return f"{dtype_label(self.dtype)} {format_dims(self.dims)}"


UNKNOWN = TensorInfo(UNKNOWN_DTYPE, None)


def dtype_label(code: int) -> str:
    if code == STRING:
        return "string"
    if code == UNKNOWN_DTYPE:
        return "unknown dtype"
    return str(tensor_pb2.DataType.Name(code)).lower() if code in tensor_pb2.DataType.values() else str(code)


def format_dims(dims: Sequence[Dim] | None) -> str:
    if dims is None:
        return "[unknown rank]"
    return "[" + ", ".join("?" if d is None else str(d) for d in dims) + "]"


def tensor_type_info(tensor_type: tensor_pb2.TensorType) -> TensorInfo:
    dims: list[Dim] = []
    for dim in tensor_type.shape:
        which = dim.WhichOneof("value")
        dims.append(dim.size if which == "size" else dim.symbol if which == "symbol" else None)
    return TensorInfo(tensor_type.dtype, tuple(dims))


def set_dims(tensor_type: tensor_pb2.TensorType, dims: Sequence[Dim]) -> None:
    """The inverse of tensor_type_info: ints as sizes, strings as symbols, None as an unset dim."""
    del tensor_type.shape[:]
    for dim in dims:
        entry = tensor_type.shape.add()
        if isinstance(dim, str):
            entry.symbol = dim
        elif dim is not None:
            entry.size = int(dim)


def feature_info(feature: tensor_pb2.FeatureDescription) -> TensorInfo:
    """Per-example string and int64 features arrive batched as 1-D tensors [batch]."""
    which = feature.type.WhichOneof("kind")
    if which == "tensor":
        return tensor_type_info(feature.type.tensor)
    if which == "string_type":
        return TensorInfo(STRING, (BATCH,))
    if which == "int64_type":
        return TensorInfo(tensor_pb2.INT64, (BATCH,))
    return UNKNOWN
