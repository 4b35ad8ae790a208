"""Reference activations and softmax, each written as its textbook formula."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

from mlspec._proto import layers_pb2
from mlspec.reference.context import Array, LayerContext, LayerFunction
from mlspec.spec.errors import MlspecError

ActivationType = layers_pb2.ActivationLayer.ActivationType
Params = layers_pb2.ActivationLayer

_erf = np.vectorize(math.erf, otypes=[np.float64])


def _sigmoid(x: Array) -> Array:
    # exp(-softplus(-x)) never overflows, unlike 1 / (1 + exp(-x)) for very negative x.
    return np.exp(-np.logaddexp(0, -x))


def _gelu(x: Array, p: Params) -> Array:
    if p.approximate_tanh:
        gate: Array = np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3))
    else:
        gate = np.asarray(_erf(x / math.sqrt(2)))
    result: Array = 0.5 * x * (1 + gate)
    return result


_FORMULAS: dict[int, Callable[[Array, Params], Array]] = {
    ActivationType.RELU: lambda x, p: np.maximum(x, 0),
    ActivationType.LEAKY_RELU: lambda x, p: np.where(x >= 0, x, p.alpha * x),
    ActivationType.SIGMOID: lambda x, p: _sigmoid(x),
    ActivationType.TANH: lambda x, p: np.tanh(x),
    ActivationType.GELU: _gelu,
    ActivationType.ELU: lambda x, p: np.where(x > 0, x, p.alpha * np.expm1(np.minimum(x, 0))),
    ActivationType.SOFTPLUS: lambda x, p: np.logaddexp(0, x),
    ActivationType.HARD_SIGMOID: lambda x, p: np.clip(p.alpha * x + p.beta, 0, 1),
    ActivationType.HARD_SWISH: lambda x, p: x * np.clip(x / 6 + 0.5, 0, 1),
    ActivationType.LINEAR: lambda x, p: p.alpha * x + p.beta,
    ActivationType.CLIP: lambda x, p: np.clip(x, p.alpha, p.beta),
}


def activation(ctx: LayerContext, inputs: list[Array]) -> list[Array]:
    params = ctx.layer.activation
    formula = _FORMULAS.get(params.type)
    if formula is None:
        allowed = ", ".join(ActivationType.Name(t) for t in _FORMULAS)
        raise MlspecError(f"{ctx.where}.activation.type: not set; use one of {allowed}")
    return [ctx.as_float(formula(ctx.as_float(inputs[0]), params))]


def softmax(ctx: LayerContext, inputs: list[Array]) -> list[Array]:
    axis = int(ctx.layer.softmax.axis) or -1
    x = ctx.as_float(inputs[0])
    shifted = np.exp(x - x.max(axis=axis, keepdims=True))
    return [shifted / shifted.sum(axis=axis, keepdims=True)]


FUNCTIONS: dict[str, LayerFunction] = {"activation": activation, "softmax": softmax}
