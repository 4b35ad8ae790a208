"""Kinds that move values without computing new ones: flatten, reshape, transpose, concat."""

from __future__ import annotations

import math

from mlspec._proto import layers_pb2
from mlspec.spec.errors import ShapeError
from mlspec.spec.layer_kinds.base import KindInfo
from mlspec.spec.layer_kinds.rules import describe, dims_of, min_rank, product, resolve_axis, same_dtype
from mlspec.spec.tensor_info import Dim, TensorInfo


def _flatten_shape(layer: layers_pb2.Layer, inputs: list[TensorInfo]) -> TensorInfo:
    dims = dims_of(inputs[0])
    axis = layer.flatten.axis
    resolved = 1 if axis == 0 else axis + len(dims) if axis < 0 else axis
    if not 1 <= resolved <= len(dims):
        raise ShapeError(
            f"axis {axis} is outside 1..{len(dims)} for {describe(layer, inputs, 0)}",
            "use 1 (keep only the batch) or a later axis",
            ".axis",
        )
    return TensorInfo(inputs[0].dtype, (*dims[:resolved], product(dims[resolved:])))


def _reshape_check(layer: layers_pb2.Layer) -> None:
    target = list(layer.reshape.target_shape)
    if target.count(-1) > 1 or any(d == 0 or d < -1 for d in target):
        raise ShapeError(
            f"target_shape {target} may hold positive sizes and at most one -1",
            "list the per-example shape (without the batch), with -1 for one inferred size",
            ".target_shape",
        )


def _reshape_shape(layer: layers_pb2.Layer, inputs: list[TensorInfo]) -> TensorInfo:
    dims = min_rank(layer, inputs, 1, "[batch, ...]")  # a scalar input was an IndexError
    target = list(layer.reshape.target_shape)
    have = product(dims[1:])
    known = math.prod(d for d in target if d != -1)
    out: list[Dim] = list(target)
    if -1 in target:
        if have is not None and have % known:
            raise ShapeError(
                f"{describe(layer, inputs, 0)} holds {have} values per example, not a multiple of {known}",
                "choose a target_shape whose sizes divide the per-example count",
                ".target_shape",
            )
        out[target.index(-1)] = None if have is None else have // known
    elif have is not None and have != known:
        raise ShapeError(
            f"{describe(layer, inputs, 0)} holds {have} values per example, "
            f"target_shape {target} holds {known}",
            "make the target sizes multiply to the per-example count, or use one -1",
            ".target_shape",
        )
    return TensorInfo(inputs[0].dtype, (dims[0], *out))


def _transpose_check(layer: layers_pb2.Layer) -> None:
    perm = list(layer.transpose.perm)
    if sorted(perm) != list(range(len(perm))):
        raise ShapeError(
            f"perm {perm} is not a permutation of 0..{len(perm) - 1}",
            "list each axis once (the batch axis included)",
            ".perm",
        )


def _transpose_shape(layer: layers_pb2.Layer, inputs: list[TensorInfo]) -> TensorInfo:
    dims = dims_of(inputs[0])
    perm = list(layer.transpose.perm)
    if len(perm) != len(dims):
        raise ShapeError(
            f"perm {perm} has {len(perm)} entries for the {len(dims)} axes of {describe(layer, inputs, 0)}",
            f"list each of 0..{len(dims) - 1} once (the batch axis included)",
            ".perm",
        )
    return TensorInfo(inputs[0].dtype, tuple(dims[p] for p in perm))


def _merge(a: Dim, b: Dim) -> Dim:
    """The dim two tensors must share; raises ValueError when both are known and differ."""
    if isinstance(a, int) and isinstance(b, int) and a != b:
        raise ValueError
    if isinstance(a, int):
        return a
    if isinstance(b, int):
        return b
    return a if a == b else None


def _concat_shape(layer: layers_pb2.Layer, inputs: list[TensorInfo]) -> TensorInfo:
    dtype = same_dtype(layer, inputs)
    ranks = {len(dims_of(t)) for t in inputs}
    if len(ranks) > 1:
        listed = ", ".join(describe(layer, inputs, i) for i in range(len(inputs)))
        raise ShapeError(f"inputs have different ranks: {listed}", "reshape the inputs to one rank")
    rank = ranks.pop()
    axis = resolve_axis(layer.concat.axis, rank, ".axis", zero_means=1)
    out: list[Dim] = list(dims_of(inputs[0]))
    for index in range(1, len(inputs)):
        for position, dim in enumerate(dims_of(inputs[index])):
            if position == axis:
                continue
            try:
                out[position] = _merge(out[position], dim)
            except ValueError:
                raise ShapeError(
                    f"{describe(layer, inputs, index)} differs from {describe(layer, inputs, 0)} on axis "
                    f"{position}; only the concat axis {axis} may differ",
                    "reshape the inputs or concatenate along the axis where they differ",
                ) from None
    sizes = [dims_of(t)[axis] for t in inputs]
    known = [s for s in sizes if isinstance(s, int)]
    out[axis] = sum(known) if len(known) == len(sizes) else None
    return TensorInfo(dtype, tuple(out))


FLATTEN = KindInfo(name="flatten", shape=_flatten_shape)
RESHAPE = KindInfo(name="reshape", check=_reshape_check, shape=_reshape_shape)
TRANSPOSE = KindInfo(name="transpose", check=_transpose_check, shape=_transpose_shape)
CONCAT = KindInfo(name="concat", shape=_concat_shape, max_inputs=None)
