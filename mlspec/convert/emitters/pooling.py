"""Emitter for max and average pooling, windowed or global, with their training-path rewrites."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from onnx import numpy_helper

from mlspec._proto import layers_pb2
from mlspec.convert.emitters.activation import emit_moved_relu
from mlspec.convert.emitters.context import EmitContext, Emitter, where
from mlspec.convert.emitters.padding import padding_attributes
from mlspec.spec.errors import MlspecError
from mlspec.spec.tensor_info import format_dims
from mlspec.spec.windows import pooling_window

PoolingType = layers_pb2.PoolingLayer.PoolingType


def emit_pooling(ctx: EmitContext, layer: layers_pb2.Layer) -> None:
    params = layer.pooling
    if params.type not in (PoolingType.MAX, PoolingType.AVERAGE):
        raise MlspecError(f"{where(layer)}.pooling.type: not set; use MAX or AVERAGE")
    is_max = params.type == PoolingType.MAX
    source, target = layer.inputs[0], layer.outputs[0]
    if getattr(params, "global"):  # a Python keyword, so not reachable as params.global
        if is_max and ctx.forms.global_max_as_window and ctx.needs_gradient(layer):
            _global_max_as_window(ctx, layer)
        else:
            ctx.node(layer, "GlobalMaxPool" if is_max else "GlobalAveragePool", [source], [target])
        return
    decoded = pooling_window(params)
    kernel, strides = list(decoded.kernel), list(decoded.strides)
    padding = padding_attributes(ctx, layer, decoded)
    relu = ctx.activations_after_pool.pop(source, None)
    if relu is not None:  # max pooling commutes with the ReLU before it (see activation.py)
        pooled = ctx.tensor(layer, "before_relu")
        window = {"kernel_shape": kernel, "strides": strides, **padding}
        _max_pool(ctx, layer, relu.inputs[0], pooled, window, step="before_relu")
        emit_moved_relu(ctx, relu, pooled, target)
    elif is_max:
        _max_pool(ctx, layer, source, target, {"kernel_shape": kernel, "strides": strides, **padding})
    elif ctx.forms.average_pool_as_conv and ctx.needs_gradient(layer):
        _average_as_conv(ctx, layer, kernel, window={"kernel_shape": kernel, "strides": strides, **padding})
    else:
        ctx.node(
            layer,
            "AveragePool",
            [source],
            [target],
            kernel_shape=kernel,
            strides=strides,
            count_include_pad=int(params.count_include_pad),
            **padding,
        )


def _max_pool(
    ctx: EmitContext,
    layer: layers_pb2.Layer,
    source: str,
    target: str,
    window: dict[str, Any],
    *,
    step: str = "",
) -> None:
    """MaxPool, or on a backprop path whose spatial sizes are unknown when the graph is built, the
    maxima gathered from the flattened input at the pool's Indices.

    onnxruntime-training's MaxPoolGrad sizes its result from the input shape known when the
    gradient graph is built; an unknown size became 0 there and the next gradient failed to
    broadcast ("Can broadcast 0 by 0 or 1. 96 is invalid", PaddleOCR's classifier, whose input is
    [batch, 3, ?, ?]). Gather's gradient takes the data's shape at run time. The Indices are flat
    positions in the whole input (batch and channel included), so one Gather on the input
    flattened to 1-D gives the pooled tensor, ties resolved as MaxPool resolves them.
    """
    dims = ctx.dims(source)
    fixed = dims is not None and all(isinstance(d, int) for d in dims[2:])
    if fixed or not (ctx.forms.max_pool_gathered and ctx.needs_gradient(layer)):
        ctx.node(layer, "MaxPool", [source], [target], step=step, **window)
        return
    prefix = f"{step}_" if step else ""
    names = {name: ctx.tensor(layer, prefix + name) for name in ("unused", "indices", "flat")}
    ctx.node(
        layer, "MaxPool", [source], [names["unused"], names["indices"]], step=prefix + "indices", **window
    )
    flat_shape = ctx.constant(layer, prefix + "flat_shape", [-1], dtype=np.int64)
    ctx.node(layer, "Reshape", [source, flat_shape], [names["flat"]], step=prefix + "flat")
    ctx.node(layer, "Gather", [names["flat"], names["indices"]], [target], step=prefix + "gather", axis=0)


def _global_max_as_window(ctx: EmitContext, layer: layers_pb2.Layer) -> None:
    """GlobalMaxPool has no gradient in onnxruntime-training; one window over the input has."""
    dims = ctx.dims(layer.inputs[0])
    spatial = [] if dims is None else [d for d in dims[2:] if isinstance(d, int)]
    if dims is None or len(dims) < 3 or len(spatial) != len(dims) - 2:
        raise MlspecError(
            f"{where(layer)}: global max pooling on a training path is emitted as MaxPool over the "
            f"whole input, which needs fixed spatial sizes, but the input is {format_dims(dims)}. "
            "Fix: give the model input fixed spatial dims, or use global average pooling"
        )
    ctx.node(
        layer,
        "MaxPool",
        [layer.inputs[0]],
        [layer.outputs[0]],
        step="global_max_rewrite",
        kernel_shape=spatial,
    )


def _average_as_conv(
    ctx: EmitContext, layer: layers_pb2.Layer, kernel: list[int], window: dict[str, Any]
) -> None:
    """Average pooling as a depthwise Conv with constant weights.

    onnxruntime-training 1.19.2 kills the process (SIGFPE) in the AveragePool gradient when the
    batch dimension is symbolic, which is how specs declare it; Conv's gradient has no such
    problem. Sums over each window divided by the number of real cells in it reproduce
    count_include_pad=false at padded edges; that count comes from convolving ones, so it also
    holds when the spatial sizes are only known at run time.
    """
    dims = ctx.dims(layer.inputs[0])
    channels = dims[1] if dims is not None and len(dims) > 2 else None
    if not isinstance(channels, int):
        raise MlspecError(
            f"{where(layer)}: average pooling on a training path is emitted as a depthwise convolution, "
            f"which needs a known channel count, but the input is {format_dims(dims)}"
        )
    source, target = layer.inputs[0], layer.outputs[0]
    window = {**window, "group": channels}
    ones_kernel = np.ones((channels, 1, *kernel), dtype=np.float32)
    padded = any(window["pads"])  # on a training path padding is always explicit (see padding.py)
    if layer.pooling.count_include_pad or not padded:
        mean_kernel = ctx.constant(layer, "mean_kernel", ones_kernel / math.prod(kernel))
        ctx.node(layer, "Conv", [source, mean_kernel], [target], step="average_as_conv", **window)
        return
    sum_kernel = ctx.constant(layer, "sum_kernel", ones_kernel)
    names = {
        step: ctx.tensor(layer, step) for step in ("window_sums", "input_shape", "ones", "window_counts")
    }
    ctx.node(layer, "Conv", [source, sum_kernel], [names["window_sums"]], step="window_sums", **window)
    ctx.node(layer, "Shape", [source], [names["input_shape"]], step="input_shape")
    one = numpy_helper.from_array(np.ones(1, dtype=np.float32))
    ctx.node(layer, "ConstantOfShape", [names["input_shape"]], [names["ones"]], step="ones", value=one)
    ctx.node(
        layer, "Conv", [names["ones"], sum_kernel], [names["window_counts"]], step="window_counts", **window
    )
    ctx.node(layer, "Div", [names["window_sums"], names["window_counts"]], [target], step="average")


EMITTERS: dict[str, Emitter] = {"pooling": emit_pooling}
