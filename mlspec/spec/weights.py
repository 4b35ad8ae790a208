"""Weights between the spec and numpy.

Reading gives a read-only numpy view over the tensor's bytes (no element-wise conversion);
writing stores one contiguous little-endian copy. Callers that want to modify an array take
`.copy()` explicitly, which keeps accidental aliasing of spec bytes impossible.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from mlspec._proto import tensor_pb2
from mlspec.spec.errors import MlspecError

DataType = tensor_pb2.DataType

NUMPY_DTYPES: dict[int, np.dtype[np.generic]] = {
    tensor_pb2.FLOAT32: np.dtype("<f4"),
    tensor_pb2.FLOAT16: np.dtype("<f2"),
    tensor_pb2.INT64: np.dtype("<i8"),
    tensor_pb2.INT32: np.dtype("<i4"),
    tensor_pb2.DOUBLE: np.dtype("<f8"),
    tensor_pb2.INT8: np.dtype("i1"),
    tensor_pb2.UINT8: np.dtype("u1"),
    tensor_pb2.BOOL: np.dtype("bool"),
}
_SPEC_DTYPES = {dtype.newbyteorder("="): code for code, dtype in NUMPY_DTYPES.items()}


def dtype_name(code: int) -> str:
    return str(tensor_pb2.DataType.Name(code)) if code in tensor_pb2.DataType.values() else str(code)


def numpy_dtype(code: int) -> np.dtype[np.generic]:
    try:
        return NUMPY_DTYPES[code]
    except KeyError:
        allowed = ", ".join(dtype_name(c) for c in NUMPY_DTYPES)
        raise MlspecError(f"tensor dtype {dtype_name(code)} is not supported; use one of {allowed}") from None


def spec_dtype(dtype: npt.DTypeLike) -> int:
    key = np.dtype(dtype).newbyteorder("=")
    try:
        return _SPEC_DTYPES[key]
    except KeyError:
        allowed = ", ".join(str(d) for d in _SPEC_DTYPES)
        raise MlspecError(
            f"numpy dtype {np.dtype(dtype)} cannot be stored in a spec; use {allowed}"
        ) from None


def element_count(tensor: tensor_pb2.Tensor) -> int:
    return int(np.prod(tensor.shape, dtype=np.int64)) if tensor.shape else 1


def checked_raw_data(tensor: tensor_pb2.Tensor, where: str = "tensor") -> bytes:
    """The tensor's little-endian bytes, after checking they hold exactly tensor.shape's values.

    Reading the field copies the bytes out of the message once; callers that only move the bytes
    on (the converter writes float32 weights straight into ONNX initializers) use this instead of
    to_numpy so that no array is built in between.
    """
    if tensor.WhichOneof("storage") == "external":
        raise MlspecError(
            f"{where}: weights are stored outside the spec in {tensor.external.location!r}; "
            "load the spec with mlspec.load so they are read in"
        )
    dtype = numpy_dtype(tensor.dtype)
    data = tensor.raw_data
    if len(data) % dtype.itemsize:
        raise MlspecError(f"{where}: {len(data)} bytes is not a whole number of {dtype} values")
    stored, expected = len(data) // dtype.itemsize, element_count(tensor)
    if stored != expected:
        shape = " x ".join(str(d) for d in tensor.shape) or "scalar"
        raise MlspecError(f"{where}: {stored} values, expected {shape} = {expected}")
    return data


def to_numpy(tensor: tensor_pb2.Tensor, where: str = "tensor") -> npt.NDArray[np.generic]:
    """Read-only array over the tensor's bytes, shaped by tensor.shape."""
    data = checked_raw_data(tensor, where)
    return np.frombuffer(data, dtype=numpy_dtype(tensor.dtype)).reshape(tuple(tensor.shape))


def to_float32(tensor: tensor_pb2.Tensor, where: str = "tensor") -> npt.NDArray[np.float32]:
    """Float weights as float32, converting float16/double storage; no copy when already float32."""
    array = to_numpy(tensor, where)
    if array.dtype == np.float32:
        return array  # type: ignore[return-value]  # dtype checked at run time
    return array.astype(np.float32)


def set_tensor(
    tensor: tensor_pb2.Tensor,
    array: npt.ArrayLike,
    *,
    dtype: npt.DTypeLike | None = None,
    is_updatable: bool | None = None,
) -> tensor_pb2.Tensor:
    """Store `array` into `tensor` in place; keeps the updatable flag unless one is given."""
    values = np.asarray(array, dtype=dtype)
    code = spec_dtype(values.dtype)
    little = values.astype(NUMPY_DTYPES[code], copy=False)
    tensor.dtype = code  # type: ignore[assignment]  # enum values are ints at run time
    del tensor.shape[:]
    tensor.shape.extend(int(d) for d in values.shape)
    tensor.raw_data = np.ascontiguousarray(little).tobytes()
    if is_updatable is not None:
        tensor.is_updatable = is_updatable
    return tensor


def make_tensor(
    array: npt.ArrayLike, *, dtype: npt.DTypeLike | None = None, is_updatable: bool = False
) -> tensor_pb2.Tensor:
    return set_tensor(tensor_pb2.Tensor(), array, dtype=dtype, is_updatable=is_updatable)


def non_finite(tensor: tensor_pb2.Tensor) -> tuple[int, float, int] | None:
    """(first index, its value, how many) of the NaN or infinite values a float tensor holds."""
    dtype = NUMPY_DTYPES.get(tensor.dtype)
    if dtype is None or dtype.kind != "f" or tensor.WhichOneof("storage") != "raw_data":
        return None
    values = np.frombuffer(tensor.raw_data, dtype=dtype)
    if len(tensor.raw_data) % dtype.itemsize:
        return None  # the storage rule reports the size
    bad = np.flatnonzero(~np.isfinite(values))
    return (int(bad[0]), float(values[bad[0]]), int(bad.size)) if bad.size else None
