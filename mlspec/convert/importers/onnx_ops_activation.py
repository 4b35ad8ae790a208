"""Mappers for activations and elementwise arithmetic.

Besides the one-op activations this recognises the forms exporters write for activations that
older opsets lack:
- Clip(0, 6) is ReLU6; Clip with only a lower bound of 0 is ReLU;
- HardSigmoid(alpha=1/6, beta=1/2) followed by Mul with its own input is HardSwish (MobileNetV3
  exported below opset 14), and so is x * Clip(x + 3, 0, 6) / 6 (paddle2onnx's hard swish, whose
  Mul of two activations onnxruntime-training could not differentiate: its gradient failed to
  broadcast at run time in PaddleOCR's classifier);
- x * 0.5 * (1 + erf(x / sqrt(2))) is GELU (torch.nn.GELU exported below opset 20).
Arithmetic with a scalar constant (x + 3, x / 6) becomes a LINEAR activation, so that these
blocks stay typed and differentiable when they are not part of one of the patterns above.
"""

from __future__ import annotations

import math

import numpy as np
import onnx

from mlspec._proto import layers_pb2
from mlspec.convert.importers.onnx_context import Mapper, NodeContext

Activation = layers_pb2.ActivationLayer
_FLOAT_MAX = float(np.finfo(np.float32).max)
_TOLERANCE = 1e-6


def activation_layer(
    ctx: NodeContext,
    kind: int,
    *,
    alpha: float = 0.0,
    beta: float = 0.0,
    source: str | None = None,
    output: str | None = None,
    approximate_tanh: bool = False,
) -> list[layers_pb2.Layer]:
    layer = ctx.layer(inputs=[source or ctx.input(0)], outputs=[output or ctx.node.output[0]])
    layer.activation.type = kind  # type: ignore[assignment]
    layer.activation.alpha = alpha
    layer.activation.beta = beta
    layer.activation.approximate_tanh = approximate_tanh
    return [layer]


def _close(value: float | None, expected: float) -> bool:
    return value is not None and abs(value - expected) <= _TOLERANCE


def _simple(kind: int) -> Mapper:
    def mapper(ctx: NodeContext) -> list[layers_pb2.Layer] | None:
        return activation_layer(ctx, kind) if ctx.is_activation(0) else None

    return mapper


def _with_alpha(kind: int, default: float) -> Mapper:
    def mapper(ctx: NodeContext) -> list[layers_pb2.Layer] | None:
        if not ctx.is_activation(0):
            return None
        return activation_layer(ctx, kind, alpha=float(ctx.attr("alpha", default)))

    return mapper


def _is_default_op(node: onnx.NodeProto | None, op_type: str) -> bool:
    return node is not None and node.op_type == op_type and node.domain in ("", "ai.onnx")


def _hard_sigmoid(ctx: NodeContext) -> list[layers_pb2.Layer] | None:
    if not ctx.is_activation(0):
        return None
    alpha = float(ctx.attr("alpha", 0.2))
    beta = float(ctx.attr("beta", 0.5))
    follower = ctx.sole_consumer(ctx.node.output[0])
    swish_like = _close(alpha, 1 / 6) and _close(beta, 0.5) and _is_default_op(follower, "Mul")
    if swish_like and follower and sorted(follower.input) == sorted([ctx.input(0), ctx.node.output[0]]):
        ctx.absorb(follower)
        return activation_layer(ctx, Activation.HARD_SWISH, output=follower.output[0])
    return activation_layer(ctx, Activation.HARD_SIGMOID, alpha=alpha, beta=beta)


def _gelu(ctx: NodeContext) -> list[layers_pb2.Layer] | None:
    if not ctx.is_activation(0):
        return None
    approximate = str(ctx.attr("approximate", "none")) == "tanh"
    return activation_layer(ctx, Activation.GELU, approximate_tanh=approximate)


def _clip(ctx: NodeContext) -> list[layers_pb2.Layer] | None:
    low = ctx.scalar(1) if ctx.input(1) else None
    high = ctx.scalar(2) if ctx.input(2) else None
    if not ctx.is_activation(0) or (ctx.input(1) and low is None) or (ctx.input(2) and high is None):
        return None
    if low == 0.0 and high is None:
        return activation_layer(ctx, Activation.RELU)
    return activation_layer(
        ctx,
        Activation.CLIP,
        alpha=-_FLOAT_MAX if low is None else low,
        beta=_FLOAT_MAX if high is None else high,
    )


def _erf_plus_one(ctx: NodeContext, scaled: onnx.NodeProto, source: str) -> list[onnx.NodeProto] | None:
    """[scaled, Erf, Add 1] when `scaled` is x / sqrt(2) (or x * 1/sqrt(2)) feeding erf(.) + 1."""
    if not (_is_default_op(scaled, "Div") or _is_default_op(scaled, "Mul")) or source not in scaled.input:
        return None
    factor = _scalar_operand(ctx, scaled)
    if factor is None or factor == 0.0:
        return None
    if not _close(1 / factor if scaled.op_type == "Div" else factor, 1 / math.sqrt(2)):
        return None
    erf = ctx.sole_consumer(scaled.output[0])
    plus_one = ctx.sole_consumer(erf.output[0]) if erf is not None and _is_default_op(erf, "Erf") else None
    if plus_one is None or not _is_default_op(plus_one, "Add") or _scalar_operand(ctx, plus_one) != 1.0:
        return None
    return [scaled, erf, plus_one] if erf is not None else None


def _erf_gelu(ctx: NodeContext, source: str) -> list[layers_pb2.Layer] | None:
    """GELU written out by exporters, matched from its first node; None when absent.

    torch.nn.GELU below opset 20: x / sqrt(2) -> Erf -> + 1 -> * x -> * 0.5.
    Hugging Face's gelu: x * 0.5 first, then times (erf(x / sqrt(2)) + 1).
    """
    node = ctx.node
    if _scalar_operand(ctx, node) == 0.5 and node.op_type == "Mul":
        final = ctx.sole_consumer(node.output[0])
        if final is None or not _is_default_op(final, "Mul"):
            return None
        other = final.input[1] if final.input[0] == node.output[0] else final.input[0]
        plus_one = ctx.producer(other)
        erf = ctx.producer(plus_one.input[0]) if plus_one is not None else None
        erf_input = ctx.producer(erf.input[0]) if erf is not None and _is_default_op(erf, "Erf") else None
        chain = _erf_plus_one(ctx, erf_input, source) if erf_input is not None else None
        if chain is None or chain[-1] is not plus_one or not ctx.comes_later(chain[0]):
            return None
        absorbed = [*chain, final]
    else:
        chain = _erf_plus_one(ctx, node, source)
        times_x = ctx.sole_consumer(chain[-1].output[0]) if chain else None
        if times_x is None or not _is_default_op(times_x, "Mul") or source not in times_x.input:
            return None
        half = ctx.sole_consumer(times_x.output[0])
        if half is None or not _is_default_op(half, "Mul") or _scalar_operand(ctx, half) != 0.5:
            return None
        absorbed = [*(chain or [])[1:], times_x, half]
    for later in absorbed:
        if later is not node:
            ctx.absorb(later)
    return activation_layer(ctx, Activation.GELU, source=source, output=absorbed[-1].output[0])


def _spelled_hard_swish(ctx: NodeContext, source: str) -> list[layers_pb2.Layer] | None:
    """x * Clip(x + 3, 0, 6) / 6 (or * 1/6), matched from its Add; None when absent."""
    clip = ctx.sole_consumer(ctx.node.output[0])
    if not _is_default_op(clip, "Clip") or clip is None or len(clip.input) < 3:
        return None
    bounds = [ctx.graph.constants.get(name) for name in clip.input[1:3]]
    if any(
        b is None or b.size != 1 or float(b.reshape(-1)[0]) != limit
        for b, limit in zip(bounds, (0, 6), strict=True)
    ):
        return None
    times_x = ctx.sole_consumer(clip.output[0])
    if (
        not _is_default_op(times_x, "Mul")
        or times_x is None
        or sorted(times_x.input) != sorted([source, clip.output[0]])
    ):
        return None
    final = ctx.sole_consumer(times_x.output[0])
    scale = _scalar_operand(ctx, final) if final is not None else None
    if final is None or scale is None or final.input[0] != times_x.output[0]:
        return None
    if not (_is_default_op(final, "Div") and scale == 6.0) and not (
        _is_default_op(final, "Mul") and _close(scale, 1 / 6)
    ):
        return None
    for later in (clip, times_x, final):
        ctx.absorb(later)
    return activation_layer(ctx, Activation.HARD_SWISH, source=source, output=final.output[0])


def _scalar_operand(ctx: NodeContext, node: onnx.NodeProto) -> float | None:
    for name in node.input:
        value = ctx.graph.constants.get(name)
        if value is not None and value.size == 1 and value.dtype.kind == "f":
            return float(value.reshape(-1)[0])
    return None


def _arithmetic(op_type: str) -> Mapper:
    """Add/Sub/Mul/Div: two activations -> add/multiply; one scalar constant -> LINEAR."""

    def mapper(ctx: NodeContext) -> list[layers_pb2.Layer] | None:
        if ctx.is_activation(0) and ctx.is_activation(1):
            if op_type not in ("Add", "Mul"):
                return None
            layer = ctx.layer(inputs=list(ctx.node.input))
            (layer.add if op_type == "Add" else layer.multiply).SetInParent()
            return [layer]
        constant_first = not ctx.is_activation(0)
        value = ctx.scalar(0 if constant_first else 1)
        if value is None or not ctx.is_activation(1 if constant_first else 0):
            return None
        source = ctx.input(1 if constant_first else 0)
        if op_type == "Add" and value == 3.0:
            hard_swish = _spelled_hard_swish(ctx, source)
            if hard_swish is not None:
                return hard_swish
        if op_type in ("Div", "Mul") and not constant_first:
            gelu = _erf_gelu(ctx, source)
            if gelu is not None:
                return gelu
        linear = _linear_form(op_type, value, constant_first)
        if linear is None:
            return None
        alpha, beta = linear
        return activation_layer(ctx, Activation.LINEAR, alpha=alpha, beta=beta, source=source)

    return mapper


def _linear_form(op_type: str, value: float, constant_first: bool) -> tuple[float, float] | None:
    """(alpha, beta) with alpha * x + beta equal to the op, or None (c / x, x / 0)."""
    if op_type == "Add":
        return 1.0, value
    if op_type == "Mul":
        return value, 0.0
    if op_type == "Sub":
        return (-1.0, value) if constant_first else (1.0, -value)
    if op_type == "Div" and not constant_first and value != 0.0:
        return 1.0 / value, 0.0
    return None


def _sum(ctx: NodeContext) -> list[layers_pb2.Layer] | None:
    if len(ctx.node.input) < 2 or not all(ctx.is_activation(i) for i in range(len(ctx.node.input))):
        return None
    layer = ctx.layer(inputs=list(ctx.node.input))
    layer.add.SetInParent()
    return [layer]


MAPPERS: dict[str, Mapper] = {
    "Relu": _simple(Activation.RELU),
    "Sigmoid": _simple(Activation.SIGMOID),
    "Tanh": _simple(Activation.TANH),
    "Softplus": _simple(Activation.SOFTPLUS),
    "HardSwish": _simple(Activation.HARD_SWISH),
    "LeakyRelu": _with_alpha(Activation.LEAKY_RELU, 0.01),
    "Elu": _with_alpha(Activation.ELU, 1.0),
    "HardSigmoid": _hard_sigmoid,
    "Gelu": _gelu,
    "Clip": _clip,
    "Add": _arithmetic("Add"),
    "Sub": _arithmetic("Sub"),
    "Mul": _arithmetic("Mul"),
    "Div": _arithmetic("Div"),
    "Sum": _sum,
}
