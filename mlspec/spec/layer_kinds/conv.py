"""Convolution, read through its decoded attributes (mlspec.spec.windows.Convolution)."""

from __future__ import annotations

from mlspec._proto import layers_pb2
from mlspec.spec.errors import ShapeError
from mlspec.spec.layer_kinds.base import Expected, KindInfo
from mlspec.spec.layer_kinds.checks import kernel, pads, per_axis, positive
from mlspec.spec.layer_kinds.rules import describe, float_input, window_dims, with_bias
from mlspec.spec.tensor_info import TensorInfo
from mlspec.spec.windows import Convolution


def _check(layer: layers_pb2.Layer) -> None:
    conv = Convolution.of(layer.convolution)
    kernel(conv.window)
    positive(conv.input_channels, ".input_channels", "the channel count")
    positive(conv.output_channels, ".output_channels", "the channel count")
    groups = conv.groups
    if groups < 0 or conv.input_channels % groups or conv.output_channels % groups:
        raise ShapeError(
            f"groups {groups} must divide input_channels {conv.input_channels} "
            f"and output_channels {conv.output_channels}",
            "use a common divisor (input_channels for depthwise convolution)",
            ".groups",
        )
    per_axis(conv.window.strides, conv.window.rank, ".strides")
    per_axis(conv.window.dilations, conv.window.rank, ".dilations")
    pads(conv.window)


def _shape(layer: layers_pb2.Layer, inputs: list[TensorInfo]) -> TensorInfo:
    conv = Convolution.of(layer.convolution)
    rank = conv.window.rank
    dims = float_input(layer, inputs)
    if len(dims) != rank + 2:
        raise ShapeError(
            f"{describe(layer, inputs, 0)} has rank {len(dims)}, but a {rank}-D convolution needs "
            f"[batch, channels, {', '.join(['length'] if rank == 1 else ['height', 'width'])}]",
            "match kernel_shape to the input's spatial axes",
        )
    if isinstance(dims[1], int) and dims[1] != conv.input_channels:
        raise ShapeError(
            f"{describe(layer, inputs, 0)} has {dims[1]} channels, "
            f"but input_channels is {conv.input_channels}",
            f"set input_channels to {dims[1]} (and resize the weights) "
            f"or feed {conv.input_channels} channels",
            ".input_channels",
        )
    spatial = window_dims(dims[2:], conv.window)
    return TensorInfo(inputs[0].dtype, (dims[0], conv.output_channels, *spatial))


def _weights(layer: layers_pb2.Layer) -> tuple[Expected, tuple[str, ...]]:
    conv = Convolution.of(layer.convolution)
    groups = conv.groups
    if groups <= 0 or conv.input_channels % groups:
        return {}, ()  # the attribute check reports the groups problem
    weights = (conv.output_channels, conv.input_channels // groups, *conv.window.kernel)
    layout = "[output_channels, input_channels / groups, *kernel_shape]"
    return with_bias({"weights": (weights, layout)}, conv.has_bias, conv.output_channels)


CONVOLUTION = KindInfo(
    name="convolution",
    check=_check,
    shape=_shape,
    weights=_weights,
    tensor_fields=("weights", "bias"),
    trainable_fields=("weights", "bias"),
)
