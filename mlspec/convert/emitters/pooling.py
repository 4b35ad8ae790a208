"""Emitter for max and average pooling, windowed or global."""

from __future__ import annotations

from mlspec._proto import layers_pb2
from mlspec.convert.emitters.context import EmitContext, where
from mlspec.convert.emitters.padding import padding_attributes
from mlspec.spec.errors import MlspecError
from mlspec.spec.tensor_info import format_dims

PoolingType = layers_pb2.PoolingLayer.PoolingType


def emit_pooling(ctx: EmitContext, layer: layers_pb2.Layer) -> None:
    params = layer.pooling
    if params.type not in (PoolingType.MAX, PoolingType.AVERAGE):
        raise MlspecError(f"{where(layer)}.pooling.type: not set; use MAX or AVERAGE")
    is_max = params.type == PoolingType.MAX
    source, target = layer.inputs[0], layer.outputs[0]
    if getattr(params, "global"):  # a Python keyword, so not reachable as params.global
        if is_max and ctx.needs_gradient(layer):
            _global_max_as_window(ctx, layer)
        else:
            ctx.node(layer, "GlobalMaxPool" if is_max else "GlobalAveragePool", [source], [target])
        return
    kernel = [int(k) for k in params.kernel_shape]
    strides = [int(s) for s in params.strides] or [1] * len(kernel)
    ones = [1] * len(kernel)
    padding = padding_attributes(ctx, layer, params.padding, kernel=kernel, strides=strides, dilations=ones)
    if is_max:
        ctx.node(layer, "MaxPool", [source], [target], kernel_shape=kernel, strides=strides, **padding)
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
