"""Pooling (max or average, windowed or global), read through mlspec.spec.windows.pooling_window."""

from __future__ import annotations

from mlspec._proto import layers_pb2
from mlspec.spec.errors import ShapeError
from mlspec.spec.layer_kinds.base import KindInfo
from mlspec.spec.layer_kinds.checks import kernel, named, pads, per_axis
from mlspec.spec.layer_kinds.rules import describe, float_input, window_dims
from mlspec.spec.tensor_info import TensorInfo
from mlspec.spec.windows import pooling_window


def is_global(spec: layers_pb2.PoolingLayer) -> bool:
    return bool(getattr(spec, "global"))  # a Python keyword, so protobuf offers no attribute syntax


def _check(layer: layers_pb2.Layer) -> None:
    spec = layer.pooling
    named(spec.type, layers_pb2.PoolingLayer.PoolingType, "pooling")
    if is_global(spec):
        return
    window = pooling_window(spec)
    kernel(window)
    per_axis(window.strides, window.rank, ".strides")
    padding = pads(window)
    if padding is not None and any(max(p) >= k for p, k in zip(padding, window.kernel, strict=True)):
        raise ShapeError(
            f"explicit pads {list(window.explicit)} must each be smaller "
            f"than the kernel {list(window.kernel)}",
            "reduce the padding or use same padding",
            ".padding.explicit.pads",
        )


def _shape(layer: layers_pb2.Layer, inputs: list[TensorInfo]) -> TensorInfo:
    spec = layer.pooling
    dims = float_input(layer, inputs)
    if len(dims) not in (3, 4):
        raise ShapeError(
            f"{describe(layer, inputs, 0)} has rank {len(dims)}; pooling needs [batch, channels, length] "
            "or [batch, channels, height, width]",
            "reshape the input to put channels on axis 1",
        )
    rank = len(dims) - 2
    if is_global(spec):
        return TensorInfo(inputs[0].dtype, (*dims[:2], *(1,) * rank))
    window = pooling_window(spec)
    if window.rank != rank:
        raise ShapeError(
            f"kernel_shape has {window.rank} entries for the {rank} spatial axes of "
            f"{describe(layer, inputs, 0)}",
            f"give {rank} kernel sizes, or set global",
            ".kernel_shape",
        )
    spatial = window_dims(dims[2:], window)
    return TensorInfo(inputs[0].dtype, (*dims[:2], *spatial))


POOLING = KindInfo(name="pooling", check=_check, shape=_shape)
