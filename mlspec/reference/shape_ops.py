"""Reference layers that only move values around: flatten, reshape, transpose, concat."""

from __future__ import annotations

import numpy as np

from mlspec.reference.context import Array, LayerContext, LayerFunction


def flatten(ctx: LayerContext, inputs: list[Array]) -> list[Array]:
    """Keep the axes before `axis` (0 means 1) and merge the rest into one."""
    x = inputs[0]
    axis = int(ctx.layer.flatten.axis) or 1
    if axis < 0:
        axis += x.ndim
    return [x.reshape(*x.shape[:axis], -1)]


def reshape(ctx: LayerContext, inputs: list[Array]) -> list[Array]:
    x = inputs[0]
    return [x.reshape(x.shape[0], *ctx.layer.reshape.target_shape)]


def transpose(ctx: LayerContext, inputs: list[Array]) -> list[Array]:
    return [np.transpose(inputs[0], list(ctx.layer.transpose.perm))]


def concat(ctx: LayerContext, inputs: list[Array]) -> list[Array]:
    axis = int(ctx.layer.concat.axis) or 1
    return [np.concatenate(inputs, axis=axis)]


FUNCTIONS: dict[str, LayerFunction] = {
    "flatten": flatten,
    "reshape": reshape,
    "transpose": transpose,
    "concat": concat,
}
