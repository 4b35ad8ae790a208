"""Reference for the kinds that hold a weight matrix applied by lookup or product."""

from __future__ import annotations

import numpy as np

from mlspec.reference.context import Array, LayerContext, LayerFunction
from mlspec.spec.errors import MlspecError


def inner_product(ctx: LayerContext, inputs: list[Array]) -> list[Array]:
    """y = x W^T + b over the last axis, whatever the rank of x."""
    x = ctx.as_float(inputs[0])
    y = x @ ctx.weight("weights").T
    if ctx.layer.inner_product.has_bias:
        y = y + ctx.weight("bias")
    return [y]


def embedding(ctx: LayerContext, inputs: list[Array]) -> list[Array]:
    indices = np.asarray(inputs[0])
    if not np.issubdtype(indices.dtype, np.integer):
        raise MlspecError(f"{ctx.where}: input must hold integer indices, got {indices.dtype}")
    table = ctx.weight("weights")
    vocab = table.shape[0]
    if indices.size and (indices.min() < 0 or indices.max() >= vocab):
        raise MlspecError(
            f"{ctx.where}: index {int(indices.max()) if indices.max() >= vocab else int(indices.min())} "
            f"is outside the vocabulary [0, {vocab})"
        )
    return [table[indices]]


FUNCTIONS: dict[str, LayerFunction] = {"inner_product": inner_product, "embedding": embedding}
