"""Gradients of max, average and global average pooling.

Max pooling routes each window's gradient to the cell MaxPool's Indices output names; ONNX
Runtime's CPU kernel keeps the first maximal cell of a tied window (it replaces the running
maximum only on a strictly greater value), which is also what PyTorch's CPU kernel does.
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
    """Scatter-add dY at the flat indices of the maxima (the Indices output, added if undeclared)."""
    dy = grads[0]
    assert dy is not None
    if int(attribute(node, "storage_order", 0)) != 0:
        raise ValueError("only storage_order 0 (row-major indices) has a gradient rule")
    x = node.input[0]
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
