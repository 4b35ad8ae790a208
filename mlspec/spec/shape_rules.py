"""Per-kind shape rules, following the semantics documented in proto/mlspec/v1/layers.proto.

Each rule takes the layer and the infos of its inputs and returns the info of its one output,
or raises ShapeError naming the field at fault. Symbolic and unknown dims flow through: a rule
only complains about numbers it actually knows.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from mlspec._proto import layers_pb2, tensor_pb2
from mlspec.spec.errors import ShapeError
from mlspec.spec.kinds import KINDS
from mlspec.spec.layer_attributes import check_attributes, is_global
from mlspec.spec.tensor_info import (
    UNKNOWN,
    UNKNOWN_DTYPE,
    Dim,
    TensorInfo,
    dtype_label,
    format_dims,
    tensor_type_info,
)
from mlspec.spec.windows import Convolution, Window, pooling_window

__all__ = ["ShapeError", "infer_layer"]


# A rule returns the layer's one output, or a list for a kind that may have several.
Rule = Callable[[layers_pb2.Layer, list[TensorInfo]], TensorInfo | list[TensorInfo]]


def infer_layer(layer: layers_pb2.Layer, inputs: list[TensorInfo]) -> list[TensorInfo]:
    """Infos of the layer's outputs; empty when the graph rules already reject the layer."""
    kind = layer.WhichOneof("kind")
    if kind is None:
        return []
    check_attributes(layer)
    info = KINDS[kind]
    if len(inputs) < info.min_inputs or (info.max_inputs is not None and len(inputs) > info.max_inputs):
        return []
    # An imported node declares its outputs, so only the other kinds need known input dims.
    if kind != "onnx_node" and any(tensor.dims is None for tensor in inputs):
        dtype = tensor_pb2.FLOAT32 if kind == "embedding" else inputs[0].dtype
        return [TensorInfo(dtype, None)]
    outputs = _RULES[kind](layer, inputs)
    return outputs if isinstance(outputs, list) else [outputs]


# ---- helpers -----------------------------------------------------------------------------------


def _describe(layer: layers_pb2.Layer, inputs: list[TensorInfo], index: int) -> str:
    return f'input "{layer.inputs[index]}" {format_dims(inputs[index].dims)}'


def _dims(tensor: TensorInfo) -> tuple[Dim, ...]:
    assert tensor.dims is not None  # infer_layer handles unknown ranks before any rule runs
    return tensor.dims


def _float_input(layer: layers_pb2.Layer, inputs: list[TensorInfo], index: int = 0) -> tuple[Dim, ...]:
    tensor = inputs[index]
    if tensor.dtype != UNKNOWN_DTYPE and not tensor.is_float:
        raise ShapeError(
            f"{_describe(layer, inputs, index)} has dtype {dtype_label(tensor.dtype)}, "
            f"but {layer.WhichOneof('kind')} needs float32, float16 or double",
            "feed a float tensor (an embedding layer turns integer ids into floats)",
        )
    return _dims(tensor)


def _min_rank(layer: layers_pb2.Layer, inputs: list[TensorInfo], rank: int, layout: str) -> tuple[Dim, ...]:
    dims = _dims(inputs[0])
    if len(dims) < rank:
        raise ShapeError(
            f"{_describe(layer, inputs, 0)} has rank {len(dims)}; {layer.WhichOneof('kind')} needs {layout}",
            "reshape the input or feed a tensor with the batch axis included",
        )
    return dims


def _axis(axis: int, rank: int, field: str, *, zero_means: int) -> int:
    """Resolve an axis where 0 stands for a default and negatives count from the end."""
    resolved = zero_means if axis == 0 else axis + rank if axis < 0 else axis
    if not 1 <= resolved < rank:
        raise ShapeError(
            f"{field.lstrip('.')} {axis} does not name an axis after the batch of a rank-{rank} tensor",
            f"use an axis in 1..{rank - 1} or -{rank - 1}..-1",
            field,
        )
    return resolved


def _product(dims: Sequence[Dim]) -> int | None:
    total = 1
    for dim in dims:
        if not isinstance(dim, int):
            return None
        total *= dim
    return total


def _merge(a: Dim, b: Dim) -> Dim:
    """The dim two tensors must share; raises ValueError when both are known and differ."""
    if isinstance(a, int) and isinstance(b, int) and a != b:
        raise ValueError
    if isinstance(a, int):
        return a
    if isinstance(b, int):
        return b
    return a if a == b else None


def _broadcast(a: Dim, b: Dim) -> Dim:
    if a == b:
        return a
    if a == 1:
        return b
    if b == 1:
        return a
    if isinstance(a, int) and isinstance(b, int):
        raise ValueError
    if isinstance(a, int):
        return a
    if isinstance(b, int):
        return b
    return None


# ---- windows (convolution, pooling) ----------------------------------------------------------------


def _window_dims(spatial: Sequence[Dim], window: Window) -> tuple[Dim, ...]:
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


def _convolution(layer: layers_pb2.Layer, inputs: list[TensorInfo]) -> TensorInfo:
    conv = Convolution.of(layer.convolution)
    rank = conv.window.rank
    dims = _float_input(layer, inputs)
    if len(dims) != rank + 2:
        raise ShapeError(
            f"{_describe(layer, inputs, 0)} has rank {len(dims)}, but a {rank}-D convolution needs "
            f"[batch, channels, {', '.join(['length'] if rank == 1 else ['height', 'width'])}]",
            "match kernel_shape to the input's spatial axes",
        )
    if isinstance(dims[1], int) and dims[1] != conv.input_channels:
        raise ShapeError(
            f"{_describe(layer, inputs, 0)} has {dims[1]} channels, "
            f"but input_channels is {conv.input_channels}",
            f"set input_channels to {dims[1]} (and resize the weights) "
            f"or feed {conv.input_channels} channels",
            ".input_channels",
        )
    spatial = _window_dims(dims[2:], conv.window)
    return TensorInfo(inputs[0].dtype, (dims[0], conv.output_channels, *spatial))


def _pooling(layer: layers_pb2.Layer, inputs: list[TensorInfo]) -> TensorInfo:
    spec = layer.pooling
    dims = _float_input(layer, inputs)
    if len(dims) not in (3, 4):
        raise ShapeError(
            f"{_describe(layer, inputs, 0)} has rank {len(dims)}; pooling needs [batch, channels, length] "
            "or [batch, channels, height, width]",
            "reshape the input to put channels on axis 1",
        )
    rank = len(dims) - 2
    if is_global(spec):
        return TensorInfo(inputs[0].dtype, (*dims[:2], *(1,) * rank))
    window = pooling_window(spec)
    if window.rank != rank:
        raise ShapeError(
            f"kernel_shape has {window.rank} entries for the {rank} spatial axes of "
            f"{_describe(layer, inputs, 0)}",
            f"give {rank} kernel sizes, or set global",
            ".kernel_shape",
        )
    spatial = _window_dims(dims[2:], window)
    return TensorInfo(inputs[0].dtype, (*dims[:2], *spatial))


# ---- the other kinds -------------------------------------------------------------------------------


def _inner_product(layer: layers_pb2.Layer, inputs: list[TensorInfo]) -> TensorInfo:
    spec = layer.inner_product
    _float_input(layer, inputs)
    dims = _min_rank(layer, inputs, 2, "[batch, ..., input_channels]")
    if isinstance(dims[-1], int) and dims[-1] != spec.input_channels:
        raise ShapeError(
            f"{_describe(layer, inputs, 0)} has {dims[-1]} features on its last axis, "
            f"but input_channels is {spec.input_channels}",
            f"set input_channels to {dims[-1]} (and resize the weights) or flatten/reshape the input",
            ".input_channels",
        )
    return TensorInfo(inputs[0].dtype, (*dims[:-1], spec.output_channels))


def _batch_norm(layer: layers_pb2.Layer, inputs: list[TensorInfo]) -> TensorInfo:
    spec = layer.batch_norm
    _float_input(layer, inputs)
    dims = _min_rank(layer, inputs, 2, "[batch, channels, ...]")
    if isinstance(dims[1], int) and dims[1] != spec.channels:
        raise ShapeError(
            f"{_describe(layer, inputs, 0)} has {dims[1]} channels on axis 1, "
            f"but channels is {spec.channels}",
            f"set channels to {dims[1]} (and resize the four tensors)",
            ".channels",
        )
    return inputs[0]


def _activation(layer: layers_pb2.Layer, inputs: list[TensorInfo]) -> TensorInfo:
    _float_input(layer, inputs)
    return inputs[0]


def _softmax(layer: layers_pb2.Layer, inputs: list[TensorInfo]) -> TensorInfo:
    _float_input(layer, inputs)
    dims = _min_rank(layer, inputs, 2, "[batch, classes]")
    _axis(layer.softmax.axis, len(dims), ".axis", zero_means=len(dims) - 1)
    return inputs[0]


def _flatten(layer: layers_pb2.Layer, inputs: list[TensorInfo]) -> TensorInfo:
    dims = _dims(inputs[0])
    axis = layer.flatten.axis
    resolved = 1 if axis == 0 else axis + len(dims) if axis < 0 else axis
    if not 1 <= resolved <= len(dims):
        raise ShapeError(
            f"axis {axis} is outside 1..{len(dims)} for {_describe(layer, inputs, 0)}",
            "use 1 (keep only the batch) or a later axis",
            ".axis",
        )
    return TensorInfo(inputs[0].dtype, (*dims[:resolved], _product(dims[resolved:])))


def _reshape(layer: layers_pb2.Layer, inputs: list[TensorInfo]) -> TensorInfo:
    dims = _dims(inputs[0])
    target = list(layer.reshape.target_shape)
    have = _product(dims[1:])
    known = math.prod(d for d in target if d != -1)
    out: list[Dim] = list(target)
    if -1 in target:
        if have is not None and have % known:
            raise ShapeError(
                f"{_describe(layer, inputs, 0)} holds {have} values per example, not a multiple of {known}",
                "choose a target_shape whose sizes divide the per-example count",
                ".target_shape",
            )
        out[target.index(-1)] = None if have is None else have // known
    elif have is not None and have != known:
        raise ShapeError(
            f"{_describe(layer, inputs, 0)} holds {have} values per example, "
            f"target_shape {target} holds {known}",
            "make the target sizes multiply to the per-example count, or use one -1",
            ".target_shape",
        )
    return TensorInfo(inputs[0].dtype, (dims[0], *out))


def _transpose(layer: layers_pb2.Layer, inputs: list[TensorInfo]) -> TensorInfo:
    dims = _dims(inputs[0])
    perm = list(layer.transpose.perm)
    if len(perm) != len(dims):
        raise ShapeError(
            f"perm {perm} has {len(perm)} entries for the {len(dims)} axes of {_describe(layer, inputs, 0)}",
            f"list each of 0..{len(dims) - 1} once (the batch axis included)",
            ".perm",
        )
    return TensorInfo(inputs[0].dtype, tuple(dims[p] for p in perm))


def _same_dtype(layer: layers_pb2.Layer, inputs: list[TensorInfo]) -> int:
    dtypes = {t.dtype for t in inputs if t.dtype != UNKNOWN_DTYPE}
    if len(dtypes) > 1:
        listed = ", ".join(f'"{n}" {dtype_label(t.dtype)}' for n, t in zip(layer.inputs, inputs, strict=True))
        raise ShapeError(f"inputs have different dtypes: {listed}", "cast the inputs to one dtype")
    return dtypes.pop() if dtypes else UNKNOWN_DTYPE


def _concat(layer: layers_pb2.Layer, inputs: list[TensorInfo]) -> TensorInfo:
    dtype = _same_dtype(layer, inputs)
    ranks = {len(_dims(t)) for t in inputs}
    if len(ranks) > 1:
        listed = ", ".join(_describe(layer, inputs, i) for i in range(len(inputs)))
        raise ShapeError(f"inputs have different ranks: {listed}", "reshape the inputs to one rank")
    rank = ranks.pop()
    axis = _axis(layer.concat.axis, rank, ".axis", zero_means=1)
    out: list[Dim] = list(_dims(inputs[0]))
    for index in range(1, len(inputs)):
        for position, dim in enumerate(_dims(inputs[index])):
            if position == axis:
                continue
            try:
                out[position] = _merge(out[position], dim)
            except ValueError:
                raise ShapeError(
                    f"{_describe(layer, inputs, index)} differs from {_describe(layer, inputs, 0)} on axis "
                    f"{position}; only the concat axis {axis} may differ",
                    "reshape the inputs or concatenate along the axis where they differ",
                ) from None
    sizes = [_dims(t)[axis] for t in inputs]
    known = [s for s in sizes if isinstance(s, int)]
    out[axis] = sum(known) if len(known) == len(sizes) else None
    return TensorInfo(dtype, tuple(out))


def _elementwise(layer: layers_pb2.Layer, inputs: list[TensorInfo]) -> TensorInfo:
    dtype = _same_dtype(layer, inputs)
    out: list[Dim] = []
    for index, tensor in enumerate(inputs):
        dims = list(_dims(tensor))
        width = max(len(out), len(dims))
        ones: list[Dim] = [1] * width
        left = ones[: width - len(out)] + out
        right = ones[: width - len(dims)] + dims
        try:
            out = [_broadcast(a, b) for a, b in zip(left, right, strict=True)]
        except ValueError:
            raise ShapeError(
                f"{_describe(layer, inputs, index)} does not broadcast with {format_dims(left)}",
                "make trailing dims equal or 1 (numpy broadcasting)",
            ) from None
    return TensorInfo(dtype, tuple(out))


def _dropout(layer: layers_pb2.Layer, inputs: list[TensorInfo]) -> TensorInfo:
    return inputs[0]


def _layer_norm(layer: layers_pb2.Layer, inputs: list[TensorInfo]) -> TensorInfo:
    normalized = list(layer.layer_norm.normalized_shape)
    dims = _float_input(layer, inputs)
    if len(dims) <= len(normalized):
        raise ShapeError(
            f"{_describe(layer, inputs, 0)} has rank {len(dims)}; normalized_shape {normalized} "
            "would reach the batch axis",
            "normalise fewer trailing axes",
            ".normalized_shape",
        )
    trailing = dims[len(dims) - len(normalized) :]
    if any(isinstance(d, int) and d != n for d, n in zip(trailing, normalized, strict=True)):
        raise ShapeError(
            f"{_describe(layer, inputs, 0)} ends in {format_dims(trailing)}, "
            f"but normalized_shape is {normalized}",
            f"set normalized_shape to {format_dims(trailing)}",
            ".normalized_shape",
        )
    return inputs[0]


def _embedding(layer: layers_pb2.Layer, inputs: list[TensorInfo]) -> TensorInfo:
    spec = layer.embedding
    tensor = inputs[0]
    if tensor.dtype != UNKNOWN_DTYPE and not tensor.is_integer:
        raise ShapeError(
            f"{_describe(layer, inputs, 0)} has dtype {dtype_label(tensor.dtype)}; "
            "embedding looks up int64 (or int32) ids",
            "feed integer ids (an int64 feature or int64 tensor)",
        )
    dtype = spec.weights.dtype if spec.HasField("weights") and spec.weights.dtype else tensor_pb2.FLOAT32
    return TensorInfo(dtype, (*_dims(tensor), spec.embedding_dim))


def _onnx_node(layer: layers_pb2.Layer, inputs: list[TensorInfo]) -> list[TensorInfo]:
    """Declared output types let checks continue past an imported node; otherwise outputs are unknown."""
    declared = layer.onnx_node.output_types
    if not declared:
        return [UNKNOWN] * len(layer.outputs)
    return [tensor_type_info(t) for t in declared]


_RULES: dict[str, Rule] = {
    "inner_product": _inner_product,
    "convolution": _convolution,
    "batch_norm": _batch_norm,
    "pooling": _pooling,
    "activation": _activation,
    "softmax": _softmax,
    "flatten": _flatten,
    "reshape": _reshape,
    "transpose": _transpose,
    "concat": _concat,
    "add": _elementwise,
    "multiply": _elementwise,
    "dropout": _dropout,
    "layer_norm": _layer_norm,
    "embedding": _embedding,
    "onnx_node": _onnx_node,
}
