"""Activation (elementwise nonlinearities named by an enum) and softmax."""

from __future__ import annotations

from mlspec._proto import layers_pb2
from mlspec.spec.layer_kinds.base import KindInfo
from mlspec.spec.layer_kinds.checks import named
from mlspec.spec.layer_kinds.rules import float_input, min_rank, resolve_axis
from mlspec.spec.tensor_info import TensorInfo


def _activation_check(layer: layers_pb2.Layer) -> None:
    named(layer.activation.type, layers_pb2.ActivationLayer.ActivationType, "activation")


def _activation_shape(layer: layers_pb2.Layer, inputs: list[TensorInfo]) -> TensorInfo:
    float_input(layer, inputs)
    return inputs[0]


def _softmax_shape(layer: layers_pb2.Layer, inputs: list[TensorInfo]) -> TensorInfo:
    float_input(layer, inputs)
    dims = min_rank(layer, inputs, 2, "[batch, classes]")
    resolve_axis(layer.softmax.axis, len(dims), ".axis", zero_means=len(dims) - 1)
    return inputs[0]


ACTIVATION = KindInfo(name="activation", check=_activation_check, shape=_activation_shape)
SOFTMAX = KindInfo(name="softmax", shape=_softmax_shape)
