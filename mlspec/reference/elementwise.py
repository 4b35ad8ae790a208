"""Reference elementwise layers: add, multiply (numpy broadcasting) and dropout."""

from __future__ import annotations

import functools

import numpy as np

from mlspec.reference.context import Array, LayerContext, LayerFunction
from mlspec.spec.errors import MlspecError


def add(ctx: LayerContext, inputs: list[Array]) -> list[Array]:
    return [functools.reduce(np.add, [ctx.as_float(x) for x in inputs])]


def multiply(ctx: LayerContext, inputs: list[Array]) -> list[Array]:
    return [functools.reduce(np.multiply, [ctx.as_float(x) for x in inputs])]


def dropout(ctx: LayerContext, inputs: list[Array]) -> list[Array]:
    """Identity outside training; in training, x * mask / (1 - rate) with a caller-given mask.

    A random mask cannot be reproduced from outside the runtime that drew it, so training-mode
    dropout needs the mask (booleans shaped like x, True = kept) in `dropout_masks[layer]`.
    """
    x = ctx.as_float(inputs[0])
    rate = ctx.layer.dropout.rate
    if not ctx.training or rate == 0:
        return [x]
    if ctx.layer.name not in ctx.dropout_masks:
        raise MlspecError(
            f"{ctx.where}: dropout with rate {rate} is random in training; pass its keep-mask "
            f'as dropout_masks={{"{ctx.layer.name}": mask}} or evaluate with training=False'
        )
    mask = np.asarray(ctx.dropout_masks[ctx.layer.name], dtype=bool)
    if mask.shape != x.shape:
        raise MlspecError(f"{ctx.where}: dropout mask has shape {mask.shape}, expected {x.shape}")
    return [x * mask / (1 - rate)]


FUNCTIONS: dict[str, LayerFunction] = {"add": add, "multiply": multiply, "dropout": dropout}
