"""Helpers of the shape rules, following the semantics documented in proto/mlspec/v1/layers.proto.

Symbolic and unknown dims flow through: a rule only complains about numbers it actually knows.
"""

from __future__ import annotations

from collections.abc import Sequence

from mlspec._proto import layers_pb2
from mlspec.spec.errors import ShapeError
from mlspec.spec.layer_kinds.base import Expected
from mlspec.spec.tensor_info import UNKNOWN_DTYPE, Dim, TensorInfo, dtype_label, format_dims
from mlspec.spec.windows import Window


def describe(layer: layers_pb2.Layer, inputs: list[TensorInfo], index: int) -> str:
    return f'input "{layer.inputs[index]}" {format_dims(inputs[index].dims)}'


def dims_of(tensor: TensorInfo) -> tuple[Dim, ...]:
    assert tensor.dims is not None  # infer_layer handles unknown ranks before any rule runs
    return tensor.dims


def float_input(layer: layers_pb2.Layer, inputs: list[TensorInfo], index: int = 0) -> tuple[Dim, ...]:
    tensor = inputs[index]
    if tensor.dtype != UNKNOWN_DTYPE and not tensor.is_float:
        raise ShapeError(
            f"{describe(layer, inputs, index)} has dtype {dtype_label(tensor.dtype)}, "
            f"but {layer.WhichOneof('kind')} needs float32, float16 or double",
            "feed a float tensor (an embedding layer turns integer ids into floats)",
        )
    return dims_of(tensor)


def min_rank(layer: layers_pb2.Layer, inputs: list[TensorInfo], rank: int, layout: str) -> tuple[Dim, ...]:
    dims = dims_of(inputs[0])
    if len(dims) < rank:
        raise ShapeError(
            f"{describe(layer, inputs, 0)} has rank {len(dims)}; {layer.WhichOneof('kind')} needs {layout}",
            "reshape the input or feed a tensor with the batch axis included",
        )
    return dims


def resolve_axis(axis: int, rank: int, field: str, *, zero_means: int) -> int:
    """Resolve an axis where 0 stands for a default and negatives count from the end."""
    resolved = zero_means if axis == 0 else axis + rank if axis < 0 else axis
    if not 1 <= resolved < rank:
        raise ShapeError(
            f"{field.lstrip('.')} {axis} does not name an axis after the batch of a rank-{rank} tensor",
            f"use an axis in 1..{rank - 1} or -{rank - 1}..-1",
            field,
        )
    return resolved


def product(dims: Sequence[Dim]) -> int | None:
    total = 1
    for dim in dims:
        if not isinstance(dim, int):
            return None
        total *= dim
    return total


def same_dtype(layer: layers_pb2.Layer, inputs: list[TensorInfo]) -> int:
    dtypes = {t.dtype for t in inputs if t.dtype != UNKNOWN_DTYPE}
    if len(dtypes) > 1:
        listed = ", ".join(f'"{n}" {dtype_label(t.dtype)}' for n, t in zip(layer.inputs, inputs, strict=True))
        raise ShapeError(f"inputs have different dtypes: {listed}", "cast the inputs to one dtype")
    return dtypes.pop() if dtypes else UNKNOWN_DTYPE


def window_dims(spatial: Sequence[Dim], window: Window) -> tuple[Dim, ...]:
    """Output sizes along the spatial axes (attributes already checked); same padding keeps
    ceil(size / stride) whatever its pads."""
    pads = window.fixed_pads()
    result: list[Dim] = []
    for axis, size in enumerate(spatial):
        if not isinstance(size, int):
            result.append(None)
            continue
        stride = window.strides[axis]
        if pads is None:
            result.append(-(-size // stride))
            continue
        span = window.dilations[axis] * (window.kernel[axis] - 1) + 1
        padded = size + pads[axis][0] + pads[axis][1]
        if padded < span:
            raise ShapeError(
                f"spatial axis {axis} has size {size} (padded {padded}), smaller than the kernel span {span}",
                "use a smaller kernel or dilation, more padding, or same padding",
                ".kernel_shape",
            )
        result.append((padded - span) // stride + 1)
    return tuple(result)


def with_bias(shapes: Expected, has_bias: bool, out: int) -> tuple[Expected, tuple[str, ...]]:
    """Add the bias's expected shape, or name it as a field that must be absent."""
    if has_bias:
        shapes["bias"] = ((out,), "[output_channels]")
        return shapes, ()
    return shapes, ("bias",)
