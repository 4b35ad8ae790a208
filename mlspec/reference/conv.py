"""Reference convolution (1-D and 2-D, strides, dilations, groups, every padding mode)."""

from __future__ import annotations

from typing import Any

import numpy as np

from mlspec.reference.context import Array, LayerContext, LayerFunction
from mlspec.reference.windows import resolved_pads, taps
from mlspec.spec.windows import Convolution


def convolution(ctx: LayerContext, inputs: list[Array]) -> list[Array]:
    """Cross-correlation as in ONNX Conv: sum over kernel taps of the tap's weights times the input."""
    conv = Convolution.of(ctx.layer.convolution)
    x = ctx.as_float(inputs[0])
    weights = ctx.weight("weights")
    window, kernel, groups = conv.window, conv.window.kernel, conv.groups
    pads = resolved_pads(window, x.shape[2:], ctx.where)
    padded = np.pad(x, [(0, 0), (0, 0), *pads])

    batch, channels = x.shape[:2]
    out_channels = weights.shape[0]
    per_group = weights.reshape(groups, out_channels // groups, channels // groups, *kernel)
    total: Array | None = None
    for offset, cells in taps(padded.shape[2:], window):
        spatial: tuple[Any, ...] = (slice(None), slice(None), *cells)
        patch = padded[spatial]
        patch = patch.reshape(batch, groups, channels // groups, *patch.shape[2:])
        tap_index: tuple[Any, ...] = (..., *offset)
        tap = per_group[tap_index]
        contribution = np.einsum("ngc...,gmc->ngm...", patch, tap)
        total = contribution if total is None else total + contribution
    assert total is not None  # a kernel has at least one tap
    y = total.reshape(batch, out_channels, *total.shape[3:])
    if conv.has_bias:
        y = y + ctx.weight("bias").reshape(-1, *([1] * len(kernel)))
    return [y]


FUNCTIONS: dict[str, LayerFunction] = {"convolution": convolution}
