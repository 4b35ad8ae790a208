"""Mappers for sliding-window ops: Conv, MaxPool, AveragePool and the global pools.

Only 1-D and 2-D windows have typed kinds. Options mlspec has no field for (ceil_mode, pooling
dilations, the MaxPool indices output) keep the node as a frozen onnx_node, which computes the
same thing but cannot be trained through.
"""

from __future__ import annotations

import numpy as np

from mlspec._proto import layers_pb2
from mlspec.convert.importers.onnx_context import Mapper, NodeContext
from mlspec.spec.weights import set_tensor

_SPATIAL_RANKS = (1, 2)


def _padding(ctx: NodeContext, spatial: int) -> layers_pb2.Padding | None:
    """ONNX auto_pad/pads as a Padding message, or None for a form mlspec cannot express."""
    padding = layers_pb2.Padding()
    auto_pad = str(ctx.attr("auto_pad", "NOTSET"))
    if auto_pad == "VALID":
        padding.valid.SetInParent()
    elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        padding.same.lower = auto_pad == "SAME_LOWER"
    elif auto_pad == "NOTSET":
        pads = [int(p) for p in ctx.attr("pads", [0] * (2 * spatial))]
        if len(pads) != 2 * spatial:
            return None
        if any(pads):
            padding.explicit.pads[:] = pads
        else:
            padding.valid.SetInParent()
    else:
        return None
    return padding


def _per_axis(ctx: NodeContext, name: str, spatial: int) -> list[int]:
    return [int(v) for v in ctx.attr(name, [1] * spatial)]


def _conv(ctx: NodeContext) -> list[layers_pb2.Layer] | None:
    kernel = ctx.weight(1)
    if not ctx.is_activation(0) or kernel is None or kernel.ndim - 2 not in _SPATIAL_RANKS:
        return None
    spatial = kernel.ndim - 2
    if [int(k) for k in ctx.attr("kernel_shape", kernel.shape[2:])] != list(kernel.shape[2:]):
        return None
    bias = ctx.weight(2) if ctx.input(2) else None
    padding = _padding(ctx, spatial)
    if padding is None or (ctx.input(2) and (bias is None or bias.ndim != 1)):
        return None
    groups = int(ctx.attr("group", 1))
    layer = ctx.layer()
    spec = layer.convolution
    spec.output_channels = int(kernel.shape[0])
    spec.input_channels = int(kernel.shape[1]) * groups
    spec.kernel_shape[:] = [int(k) for k in kernel.shape[2:]]
    spec.strides[:] = _per_axis(ctx, "strides", spatial)
    spec.dilations[:] = _per_axis(ctx, "dilations", spatial)
    spec.groups = groups
    spec.padding.CopyFrom(padding)
    spec.has_bias = bias is not None
    set_tensor(spec.weights, kernel, dtype=np.float32)
    if bias is not None:
        set_tensor(spec.bias, bias, dtype=np.float32)
    return [layer]


def _windowed_pool(ctx: NodeContext, pool_type: int) -> list[layers_pb2.Layer] | None:
    kernel = [int(k) for k in ctx.attr("kernel_shape", [])]
    spatial = len(kernel)
    if spatial not in _SPATIAL_RANKS or not ctx.is_activation(0) or ctx.output_used(1):
        return None
    if ctx.attr("ceil_mode", 0) or any(d != 1 for d in _per_axis(ctx, "dilations", spatial)):
        return None
    padding = _padding(ctx, spatial)
    if padding is None:
        return None
    layer = ctx.layer()
    spec = layer.pooling
    spec.type = pool_type  # type: ignore[assignment]
    spec.kernel_shape[:] = kernel
    spec.strides[:] = _per_axis(ctx, "strides", spatial)
    spec.padding.CopyFrom(padding)
    spec.count_include_pad = bool(ctx.attr("count_include_pad", 0))
    return [layer]


def _global_pool(ctx: NodeContext, pool_type: int) -> list[layers_pb2.Layer] | None:
    rank = ctx.rank(0)
    if not ctx.is_activation(0) or (rank is not None and rank - 2 not in _SPATIAL_RANKS):
        return None
    layer = ctx.layer()
    layer.pooling.type = pool_type  # type: ignore[assignment]
    setattr(layer.pooling, "global", True)  # "global" is a Python keyword
    return [layer]


def mean_as_global_pool(ctx: NodeContext) -> list[layers_pb2.Layer] | None:
    """ReduceMean over every spatial axis of an [N, C, spatial...] tensor, as torch's dynamo
    exporter writes adaptive_avg_pool2d(x, 1) (axes [-1, -2], keepdims 1) and timm's head and
    PyTorch's `x.mean((2, 3))` (keepdims 0): a typed global average pool, so gradients pass in
    every backend; keepdims 0 adds a flatten of the pooled [N, C, 1, 1]."""
    rank = ctx.rank(0)
    axes = ctx.ints(1) if len(ctx.node.input) > 1 and ctx.input(1) else ctx.attr("axes", None)
    if rank is None or rank - 2 not in _SPATIAL_RANKS or not ctx.is_activation(0) or not axes:
        return None
    if sorted(int(axis) % rank for axis in axes) != list(range(2, rank)):
        return None
    keepdims = bool(ctx.attr("keepdims", 1))
    pooled = ctx.node.output[0] if keepdims else f"{ctx.node.output[0]}_pooled"
    layer = ctx.layer(outputs=[pooled])
    layer.pooling.type = _AVERAGE
    setattr(layer.pooling, "global", True)  # "global" is a Python keyword
    if keepdims:
        return [layer]
    flatten = ctx.layer(inputs=[pooled], suffix="flatten")
    flatten.flatten.axis = 1
    return [layer, flatten]


_MAX = layers_pb2.PoolingLayer.MAX
_AVERAGE = layers_pb2.PoolingLayer.AVERAGE

MAPPERS: dict[str, Mapper] = {
    "Conv": _conv,
    "MaxPool": lambda ctx: _windowed_pool(ctx, _MAX),
    "AveragePool": lambda ctx: _windowed_pool(ctx, _AVERAGE),
    "GlobalMaxPool": lambda ctx: _global_pool(ctx, _MAX),
    "GlobalAveragePool": lambda ctx: _global_pool(ctx, _AVERAGE),
}
