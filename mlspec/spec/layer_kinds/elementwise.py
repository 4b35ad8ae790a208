"""Elementwise kinds: add and multiply (numpy broadcasting over two or more inputs), and dropout."""

from __future__ import annotations

from mlspec._proto import layers_pb2
from mlspec.spec.errors import ShapeError
from mlspec.spec.layer_kinds.base import KindInfo, Numeric
from mlspec.spec.layer_kinds.rules import describe, dims_of, same_dtype
from mlspec.spec.tensor_info import Dim, TensorInfo, format_dims


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


def _broadcast_shape(layer: layers_pb2.Layer, inputs: list[TensorInfo]) -> TensorInfo:
    dtype = same_dtype(layer, inputs)
    out: list[Dim] = []
    for index, tensor in enumerate(inputs):
        dims = list(dims_of(tensor))
        width = max(len(out), len(dims))
        ones: list[Dim] = [1] * width
        left = ones[: width - len(out)] + out
        right = ones[: width - len(dims)] + dims
        try:
            out = [_broadcast(a, b) for a, b in zip(left, right, strict=True)]
        except ValueError:
            raise ShapeError(
                f"{describe(layer, inputs, index)} does not broadcast with {format_dims(left)}",
                "make trailing dims equal or 1 (numpy broadcasting)",
            ) from None
    return TensorInfo(dtype, tuple(out))


def _dropout_numbers(layer: layers_pb2.Layer) -> Numeric:
    rate = layer.dropout.rate
    return [("rate", rate, 0 <= rate < 1, "must lie in [0, 1)", "use a rate from 0 up to (not including) 1")]


def _same_shape(layer: layers_pb2.Layer, inputs: list[TensorInfo]) -> TensorInfo:
    return inputs[0]


ADD = KindInfo(name="add", shape=_broadcast_shape, min_inputs=2, max_inputs=None)
MULTIPLY = KindInfo(name="multiply", shape=_broadcast_shape, min_inputs=2, max_inputs=None)
DROPOUT = KindInfo(name="dropout", numbers=_dropout_numbers, shape=_same_shape)
