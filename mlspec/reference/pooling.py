"""Reference max and average pooling, windowed or global."""

from __future__ import annotations

from typing import Any

import numpy as np

from mlspec._proto import layers_pb2
from mlspec.reference.context import Array, LayerContext, LayerFunction
from mlspec.reference.windows import resolved_pads, taps
from mlspec.spec.errors import MlspecError
from mlspec.spec.windows import pooling_window

PoolingType = layers_pb2.PoolingLayer.PoolingType


def pooling(ctx: LayerContext, inputs: list[Array]) -> list[Array]:
    params = ctx.layer.pooling
    x = ctx.as_float(inputs[0])
    if params.type not in (PoolingType.MAX, PoolingType.AVERAGE):
        raise MlspecError(f"{ctx.where}.pooling.type: not set; use MAX or AVERAGE")
    is_max = params.type == PoolingType.MAX
    spatial_axes = tuple(range(2, x.ndim))
    if getattr(params, "global"):  # a Python keyword, so not reachable as params.global
        reduce = np.max if is_max else np.mean
        return [reduce(x, axis=spatial_axes, keepdims=True)]

    window = pooling_window(params)
    pads = resolved_pads(window, x.shape[2:], ctx.where)
    batch_pads = [(0, 0), (0, 0), *pads]
    padded_sizes = [n + begin + end for n, (begin, end) in zip(x.shape[2:], pads, strict=True)]
    # Leading Ellipsis: every window slice applies to the spatial axes, behind batch and channels.
    windows: list[tuple[Any, ...]] = [(..., *cells) for _, cells in taps(padded_sizes, window)]

    if is_max:
        padded = np.pad(x, batch_pads, constant_values=-np.inf)
        return [np.maximum.reduce([padded[cells] for cells in windows])]

    padded = np.pad(x, batch_pads)
    summed = np.add.reduce([padded[cells] for cells in windows])
    if params.count_include_pad:
        return [summed / np.prod(window.kernel)]
    # Divide each window by how many of its cells hold real input, not padding.
    real = np.pad(np.ones(x.shape, dtype=x.dtype), batch_pads)
    counts = np.add.reduce([real[cells] for cells in windows])
    return [summed / counts]


FUNCTIONS: dict[str, LayerFunction] = {"pooling": pooling}
