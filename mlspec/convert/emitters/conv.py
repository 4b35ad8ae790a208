"""Emitter for 1-D and 2-D convolution."""

from __future__ import annotations

from mlspec._proto import layers_pb2
from mlspec.convert.emitters.context import EmitContext, Emitter
from mlspec.convert.emitters.padding import padding_attributes
from mlspec.spec.windows import Convolution


def emit_convolution(ctx: EmitContext, layer: layers_pb2.Layer) -> None:
    conv = Convolution.of(layer.convolution)
    window = conv.window
    inputs = [layer.inputs[0], ctx.weight(layer, "weights")]
    if conv.has_bias:
        inputs.append(ctx.weight(layer, "bias"))
    ctx.node(
        layer,
        "Conv",
        inputs,
        [layer.outputs[0]],
        kernel_shape=list(window.kernel),
        strides=list(window.strides),
        dilations=list(window.dilations),
        group=conv.groups,
        **padding_attributes(ctx, layer, window),
    )


EMITTERS: dict[str, Emitter] = {"convolution": emit_convolution}
