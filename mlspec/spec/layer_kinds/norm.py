"""Normalisation kinds: batch norm (per channel, with running statistics) and layer norm."""

from __future__ import annotations

from mlspec._proto import layers_pb2
from mlspec.spec.errors import ShapeError
from mlspec.spec.layer_kinds.base import Expected, KindInfo, Numeric
from mlspec.spec.layer_kinds.checks import positive
from mlspec.spec.layer_kinds.rules import describe, float_input, min_rank
from mlspec.spec.tensor_info import TensorInfo, format_dims

_AT_LEAST_0 = ("must be >= 0", "use 0 or a positive value")
_BATCH_NORM_TENSORS = ("gamma", "beta", "running_mean", "running_variance")


def _batch_norm_check(layer: layers_pb2.Layer) -> None:
    positive(layer.batch_norm.channels, ".channels", "the channel count")


def _batch_norm_numbers(layer: layers_pb2.Layer) -> Numeric:
    bn = layer.batch_norm
    return [
        ("epsilon", bn.epsilon, bn.epsilon >= 0, *_AT_LEAST_0),
        ("momentum", bn.momentum, 0 <= bn.momentum <= 1, "must lie in [0, 1]", "use a momentum from 0 to 1"),
    ]


def _batch_norm_shape(layer: layers_pb2.Layer, inputs: list[TensorInfo]) -> TensorInfo:
    spec = layer.batch_norm
    float_input(layer, inputs)
    dims = min_rank(layer, inputs, 2, "[batch, channels, ...]")
    if isinstance(dims[1], int) and dims[1] != spec.channels:
        raise ShapeError(
            f"{describe(layer, inputs, 0)} has {dims[1]} channels on axis 1, but channels is {spec.channels}",
            f"set channels to {dims[1]} (and resize the four tensors)",
            ".channels",
        )
    return inputs[0]


def _batch_norm_weights(layer: layers_pb2.Layer) -> tuple[Expected, tuple[str, ...]]:
    channels = ((layer.batch_norm.channels,), "[channels]")
    return dict.fromkeys(_BATCH_NORM_TENSORS, channels), ()


def _layer_norm_check(layer: layers_pb2.Layer) -> None:
    normalized = list(layer.layer_norm.normalized_shape)
    if not normalized or any(d <= 0 for d in normalized):
        raise ShapeError(
            f"normalized_shape {normalized} must list one or more positive sizes",
            "set it to the trailing dims to normalise, e.g. [features]",
            ".normalized_shape",
        )


def _layer_norm_numbers(layer: layers_pb2.Layer) -> Numeric:
    eps = layer.layer_norm.epsilon
    return [("epsilon", eps, eps >= 0, *_AT_LEAST_0)]


def _layer_norm_shape(layer: layers_pb2.Layer, inputs: list[TensorInfo]) -> TensorInfo:
    normalized = list(layer.layer_norm.normalized_shape)
    dims = float_input(layer, inputs)
    if len(dims) <= len(normalized):
        raise ShapeError(
            f"{describe(layer, inputs, 0)} has rank {len(dims)}; normalized_shape {normalized} "
            "would reach the batch axis",
            "normalise fewer trailing axes",
            ".normalized_shape",
        )
    trailing = dims[len(dims) - len(normalized) :]
    if any(isinstance(d, int) and d != n for d, n in zip(trailing, normalized, strict=True)):
        raise ShapeError(
            f"{describe(layer, inputs, 0)} ends in {format_dims(trailing)}, "
            f"but normalized_shape is {normalized}",
            f"set normalized_shape to {format_dims(trailing)}",
            ".normalized_shape",
        )
    return inputs[0]


def _layer_norm_weights(layer: layers_pb2.Layer) -> tuple[Expected, tuple[str, ...]]:
    normalized = (tuple(layer.layer_norm.normalized_shape), "normalized_shape")
    return {"gamma": normalized, "beta": normalized}, ()


BATCH_NORM = KindInfo(
    name="batch_norm",
    check=_batch_norm_check,
    numbers=_batch_norm_numbers,
    shape=_batch_norm_shape,
    weights=_batch_norm_weights,
    tensor_fields=_BATCH_NORM_TENSORS,
    trainable_fields=("gamma", "beta"),
)

LAYER_NORM = KindInfo(
    name="layer_norm",
    check=_layer_norm_check,
    numbers=_layer_norm_numbers,
    shape=_layer_norm_shape,
    weights=_layer_norm_weights,
    tensor_fields=("gamma", "beta"),
    trainable_fields=("gamma", "beta"),
)
