"""Emitter for 1-D and 2-D convolution."""

from __future__ import annotations

from mlspec._proto import layers_pb2
from mlspec.convert.emitters.context import EmitContext
from mlspec.convert.emitters.padding import padding_attributes


def emit_convolution(ctx: EmitContext, layer: layers_pb2.Layer) -> None:
    params = layer.convolution
    kernel = [int(k) for k in params.kernel_shape]
    strides = [int(s) for s in params.strides] or [1] * len(kernel)
    dilations = [int(d) for d in params.dilations] or [1] * len(kernel)
    inputs = [layer.inputs[0], ctx.weight(layer, "weights")]
    if params.has_bias:
        inputs.append(ctx.weight(layer, "bias"))
    ctx.node(
        layer,
        "Conv",
        inputs,
        [layer.outputs[0]],
        kernel_shape=kernel,
        strides=strides,
        dilations=dilations,
        group=int(params.groups) or 1,
        **padding_attributes(ctx, layer, params.padding, kernel=kernel, strides=strides, dilations=dilations),
    )
