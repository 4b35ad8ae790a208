"""Gradients of max, average and global average pooling.

Max pooling routes each window's gradient to the window's first maximal cell, which is what
PyTorch's CPU kernel does (and ONNX Runtime's, which replaces the running maximum only on a
strictly greater value). Windows that tile the input (kernel = stride, no padding or dilation,
sizes divisible) are laid side by side and ArgMax, which keeps the first maximum, picks the cell:
the forward MaxPool then has no Indices output, whose CPU kernel is 11x slower than the plain
one (1.27 ms against 0.11 ms for the benchmark CNN's 32x8x28x28, tools/bench/train_throughput.py).
Other windows use the Indices output and a ScatterElements.
Average pooling spreads each window's gradient evenly with a ConvTranspose of ones over every
(batch, channel) plane, so the channel count need not be known.
"""

from __future__ import annotations

import math

import numpy as np
import onnx

from mlspec.backends.portable.grad_rules.base import GradContext, Rule, attribute
from mlspec.backends.portable.grad_rules.conv import output_padding, window
from mlspec.backends.portable.grad_rules.reductions import count_ratio

Grads = list[str | None]


def _flat(g: GradContext, name: str, like: str | None = None) -> str:
    return g.op("Reshape", [name, g.ints([-1])], "flat", like=like)


def max_pool(g: GradContext, node: onnx.NodeProto, grads: Grads, needed: list[bool]) -> Grads:
    """Scatter-add dY at the flat indices of the maxima (the Indices output, added if undeclared),
    or for tiling windows without Indices, dY at each window's ArgMax (_tiled_max_pool)."""
    dy = grads[0]
    assert dy is not None
    if int(attribute(node, "storage_order", 0)) != 0:
        raise ValueError("only storage_order 0 (row-major indices) has a gradient rule")
    x = node.input[0]
    tiles = _tiles(g, node, x)
    if tiles is not None and (len(node.output) < 2 or not node.output[1]):
        return [_tiled_max_pool(g, x, dy, tiles)]
    if len(node.output) < 2 or not node.output[1]:
        del node.output[1:]
        node.output.append(g.fresh("max_pool_indices"))
    size = g.op("Unsqueeze", [g.op("Size", [x], "size"), g.ints([0])], "size_vector")
    zeros = g.op("Expand", [g.const(0.0, x), size], "zeros", like=x)
    routed = g.op(
        "ScatterElements",
        [zeros, _flat(g, node.output[1]), _flat(g, dy, x)],
        "routed",
        like=x,
        reduction="add",
    )
    return [g.op("Reshape", [routed, g.shape(x)], "max_pool_dx", like=x)]


def _tiles(g: GradContext, node: onnx.NodeProto, x: str) -> list[int] | None:
    """The window sizes when a MaxPool's windows tile its input exactly, else None."""
    kernel = [int(k) for k in attribute(node, "kernel_shape", [])]
    geometry = window(g, node, kernel, x)
    spatial = (g.dims(x) or [])[2:]
    if (
        len(spatial) != len(kernel)
        or geometry.strides != kernel
        or any(geometry.pads)
        or any(d != 1 for d in geometry.dilations)
        or not all(isinstance(n, int) and n % k == 0 for n, k in zip(spatial, kernel, strict=True))
    ):
        return None
    return kernel


def _tiled_max_pool(g: GradContext, x: str, dy: str, kernel: list[int]) -> str:
    """x's windows as rows of a [windows, cells] matrix (a Reshape and a Transpose that keeps
    each window row contiguous), ArgMax along the rows, dY routed into a [cells, windows]
    matrix, and the same two moves backwards.

    The routing is built cells-first and turned with a 2-D Transpose because ONNX Runtime's CPU
    kernels broadcast along a short innermost axis one span of a few elements at a time (Equal
    and Where against [windows, 1] cost 6x more than against [windows]), and the mask is a Cast
    and a Mul (a three-input Where broadcasts element by element); both Transposes move
    contiguous runs and cost about as much as the plain MaxPool.
    """
    rank = len(kernel)
    spatial = [int(n) for n in (g.dims(x) or [])[2:]]  # type: ignore[arg-type]
    outer = [n // k for n, k in zip(spatial, kernel, strict=True)]
    split = [0, 0, *(d for pair in zip(outer, kernel, strict=True) for d in pair)]
    order = [0, 1, *range(2, 2 + 2 * rank, 2), *range(3, 3 + 2 * rank, 2)]
    cells = math.prod(kernel)
    tiles = g.op("Reshape", [x, g.ints(split)], "tiles", like=x)
    grouped = g.op("Transpose", [tiles], "windows", like=x, perm=order)
    rows = g.op("Reshape", [grouped, g.ints([-1, cells])], "window_rows", like=x)
    first = g.op("ArgMax", [rows], "first_max", axis=1, keepdims=0, select_last_index=0)
    positions = g.const_typed(np.arange(cells, dtype=np.int64).reshape(cells, 1))
    chosen = g.op("Equal", [first, positions], "chosen")
    mask = g.op("Cast", [chosen], "mask", to=g.dtype(x))
    routed = g.op("Mul", [mask, _flat(g, dy, x)], "routed", like=x)
    by_window = g.op("Transpose", [routed], "routed_rows", like=x, perm=[1, 0])
    grouped_shape = g.op("Shape", [grouped], "windows_shape")
    regrouped = g.op("Reshape", [by_window, grouped_shape], "routed_windows", like=x)
    inverse = [order.index(axis) for axis in range(len(order))]
    back = g.op("Transpose", [regrouped], "routed_tiles", like=x, perm=inverse)
    return g.op("Reshape", [back, g.shape(x)], "max_pool_dx", like=x)


def average_pool(g: GradContext, node: onnx.NodeProto, grads: Grads, needed: list[bool]) -> Grads:
    """dY divided by each window's divisor, spread back over the window by ConvTranspose of ones."""
    dy = grads[0]
    assert dy is not None
    if int(attribute(node, "ceil_mode", 0)):
        raise ValueError("ceil_mode=1 has no gradient rule")
    x = node.input[0]
    kernel = [int(k) for k in attribute(node, "kernel_shape", [])]
    geometry = window(g, node, kernel, x)
    ones = g.const(np.ones([1, 1, *kernel]), x)
    plane_shape = g.op("Concat", [g.ints([-1, 1]), g.op("Shape", [dy], "spatial", start=2)], "planes", axis=0)
    planes = g.op("Reshape", [dy, plane_shape], "dy_planes", like=x)
    attrs = {"strides": geometry.strides, "dilations": geometry.dilations, "pads": geometry.pads}
    if int(attribute(node, "count_include_pad", 0)) or not any(geometry.pads):
        scaled = g.scale(planes, 1.0 / math.prod(kernel), x)
    else:  # the divisor is the number of real cells in each window: a convolution of ones
        shape = g.op("Concat", [g.ints([1, 1]), g.op("Shape", [x], "spatial", start=2)], "one_plane", axis=0)
        cells = g.op("Expand", [g.const(1.0, x), shape], "cells", like=x)
        counts = g.op("Conv", [cells, ones], "window_counts", like=x, **attrs)
        scaled = g.op("Div", [planes, counts], "scaled", like=x)
    spatial = (g.dims(x) or [None] * (2 + len(kernel)))[2:]
    spread = g.op(
        "ConvTranspose",
        [scaled, ones],
        "spread",
        like=x,
        output_padding=output_padding(spatial, geometry),
        **attrs,
    )
    return [g.op("Reshape", [spread, g.shape(x)], "average_pool_dx", like=x)]


def global_average_pool(g: GradContext, node: onnx.NodeProto, grads: Grads, needed: list[bool]) -> Grads:
    dy = grads[0]
    assert dy is not None
    x = node.input[0]
    spread = g.op("Expand", [dy, g.shape(x)], "spread", like=x)
    return [g.op("Div", [spread, count_ratio(g, x, node.output[0], x)], "global_average_dx", like=x)]


def global_max_pool(g: GradContext, node: onnx.NodeProto, grads: Grads, needed: list[bool]) -> Grads:
    """dY to the first maximal cell of each plane (ArgMax keeps the first), like a whole-plane MaxPool."""
    dy = grads[0]
    assert dy is not None
    x = node.input[0]
    planes = g.op("Reshape", [x, g.ints([0, 0, -1])], "planes", like=x)
    first = g.op("ArgMax", [planes], "first_max", axis=2, keepdims=1, select_last_index=0)
    zeros = g.op("Expand", [g.const(0.0, x), g.shape(planes)], "zeros", like=x)
    flat_dy = g.op("Reshape", [dy, g.ints([0, 0, 1])], "dy_planes", like=x)
    routed = g.op("ScatterElements", [zeros, first, flat_dy], "routed", like=x, axis=2)
    return [g.op("Reshape", [routed, g.shape(x)], "global_max_dx", like=x)]


RULES: dict[str, Rule] = {
    "GlobalMaxPool": global_max_pool,
    "MaxPool": max_pool,
    "AveragePool": average_pool,
    "GlobalAveragePool": global_average_pool,
}
