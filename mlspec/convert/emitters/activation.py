"""Emitters for activations and softmax, with the differentiable rewrites used on training paths.

onnxruntime-training 1.19.2 has no CPU gradient for Elu, Softplus, HardSigmoid or HardSwish
(docs/ORT_FINDINGS.md), so on a training path those are spelled with ops it can differentiate. The
rewrites clamp the input of every Exp whose branch Where discards: the gradient of a discarded
branch is multiplied by zero, and zero times an overflowed exp would be NaN.

ReLU and leaky ReLU are rewritten for speed, not because ORT lacks their gradients: ORT's CPU
ReluGrad, LeakyRelu, LeakyReluGrad (and Where) kernels each take about 30 times as long as Relu
itself (1.2 ms against 40 us on 32x8x28x28); ReluGrad alone was a third of a conv-net training
step. The rewrites multiply by a slope built from a boolean mask, so their gradient is one Mul.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable
from typing import Any

import onnx
from onnx import numpy_helper

from mlspec._proto import layers_pb2
from mlspec.convert.emitters.context import EmitContext, Emitter, where
from mlspec.spec.errors import MlspecError

ActivationType = layers_pb2.ActivationLayer.ActivationType
Builder = Callable[[EmitContext, layers_pb2.Layer], None]

# Above this, softplus(x) equals x to float32 precision (log1p(exp(-20)) is 2e-9).
_SOFTPLUS_LINEAR_ABOVE = 20.0


def _single(
    op_type: str, attributes: Callable[[layers_pb2.ActivationLayer], dict[str, Any]] = lambda _: {}
) -> Builder:
    def build(ctx: EmitContext, layer: layers_pb2.Layer) -> None:
        ctx.node(layer, op_type, [layer.inputs[0]], [layer.outputs[0]], **attributes(layer.activation))

    return build


def _affine(ctx: EmitContext, layer: layers_pb2.Layer, alpha: float, beta: float, output: str) -> None:
    scaled = ctx.tensor(layer, "scaled")
    ctx.node(layer, "Mul", [layer.inputs[0], ctx.constant(layer, "alpha", alpha)], [scaled], step="scale")
    ctx.node(layer, "Add", [scaled, ctx.constant(layer, "beta", beta)], [output], step="shift")


def _linear(ctx: EmitContext, layer: layers_pb2.Layer) -> None:
    _affine(ctx, layer, layer.activation.alpha, layer.activation.beta, layer.outputs[0])


def _clip(ctx: EmitContext, layer: layers_pb2.Layer) -> None:
    params = layer.activation
    bounds = [ctx.constant(layer, "min", params.alpha), ctx.constant(layer, "max", params.beta)]
    ctx.node(layer, "Clip", [layer.inputs[0], *bounds], [layer.outputs[0]])


_PLAIN: dict[int, Builder] = {
    ActivationType.RELU: _single("Relu"),
    ActivationType.LEAKY_RELU: _single("LeakyRelu", lambda p: {"alpha": p.alpha}),
    ActivationType.SIGMOID: _single("Sigmoid"),
    ActivationType.TANH: _single("Tanh"),
    ActivationType.GELU: _single("Gelu", lambda p: {"approximate": "tanh" if p.approximate_tanh else "none"}),
    ActivationType.ELU: _single("Elu", lambda p: {"alpha": p.alpha}),
    ActivationType.SOFTPLUS: _single("Softplus"),
    ActivationType.HARD_SIGMOID: _single("HardSigmoid", lambda p: {"alpha": p.alpha, "beta": p.beta}),
    ActivationType.HARD_SWISH: _single("HardSwish"),
    ActivationType.LINEAR: _linear,
    ActivationType.CLIP: _clip,
}


def _elu_rewrite(ctx: EmitContext, layer: layers_pb2.Layer) -> None:
    """Where(x > 0, x, alpha * (Exp(Where(x > 0, 0, x)) - 1)).

    The clamp is a Where, not Min(x, 0): Min shares its gradient between tied inputs, which
    halved the gradient at exactly 0 (PyTorch gives alpha * exp(0) = alpha there).
    """
    x = layer.inputs[0]
    zero, one = ctx.constant(layer, "zero", 0.0), ctx.constant(layer, "one", 1.0)
    names = {
        step: ctx.tensor(layer, step)
        for step in ("positive", "negative_part", "exp", "exp_minus_one", "scaled")
    }
    ctx.node(layer, "Greater", [x, zero], [names["positive"]], step="positive")
    ctx.node(layer, "Where", [names["positive"], zero, x], [names["negative_part"]], step="negative_part")
    ctx.node(layer, "Exp", [names["negative_part"]], [names["exp"]], step="exp")
    ctx.node(layer, "Sub", [names["exp"], one], [names["exp_minus_one"]], step="exp_minus_one")
    alpha = ctx.constant(layer, "alpha", layer.activation.alpha)
    ctx.node(layer, "Mul", [names["exp_minus_one"], alpha], [names["scaled"]], step="scaled")
    ctx.node(layer, "Where", [names["positive"], x, names["scaled"]], [layer.outputs[0]], step="select")


def _positive_mask(ctx: EmitContext, layer: layers_pb2.Layer) -> str:
    """Cast(x > 0) as float: ORT's gradient builder stops at the boolean Greater, so no gradient
    flows into the mask and a product with it differentiates into a single Mul."""
    positive, mask = ctx.tensor(layer, "positive"), ctx.tensor(layer, "mask")
    zero = ctx.constant(layer, "zero", 0.0)
    ctx.node(layer, "Greater", [layer.inputs[0], zero], [positive], step="positive")
    ctx.node(layer, "Cast", [positive], [mask], step="mask", to=onnx.TensorProto.FLOAT)
    return mask


def _relu_rewrite(ctx: EmitContext, layer: layers_pb2.Layer) -> None:
    """x * mask. Forward and gradient equal Relu and ReluGrad (zero gradient at x == 0) for
    finite values; only an infinite pre-activation or gradient differs (0 * inf is NaN), which a
    training step that reaches it has already lost."""
    mask = _positive_mask(ctx, layer)
    ctx.node(layer, "Mul", [layer.inputs[0], mask], [layer.outputs[0]], step="gate")


def _leaky_relu_rewrite(ctx: EmitContext, layer: layers_pb2.Layer) -> None:
    """x * (mask + (1 - mask) * alpha): the slope is exactly 1 or exactly alpha, so the values
    and gradients are LeakyRelu's for finite values (slope alpha at x == 0, as in LeakyReluGrad)."""
    mask = _positive_mask(ctx, layer)
    names = {step: ctx.tensor(layer, step) for step in ("not_positive", "negative_slope", "slope")}
    one, alpha = ctx.constant(layer, "one", 1.0), ctx.constant(layer, "alpha", layer.activation.alpha)
    ctx.node(layer, "Sub", [one, mask], [names["not_positive"]], step="not_positive")
    ctx.node(layer, "Mul", [names["not_positive"], alpha], [names["negative_slope"]], step="negative_slope")
    ctx.node(layer, "Add", [mask, names["negative_slope"]], [names["slope"]], step="slope")
    ctx.node(layer, "Mul", [layer.inputs[0], names["slope"]], [layer.outputs[0]], step="gate")


def _softplus_rewrite(ctx: EmitContext, layer: layers_pb2.Layer) -> None:
    """Where(x > 20, x, Log(Exp(Min(x, 20)) + 1)): exact to float32 and never overflowing."""
    x = layer.inputs[0]
    limit, one = ctx.constant(layer, "limit", _SOFTPLUS_LINEAR_ABOVE), ctx.constant(layer, "one", 1.0)
    names = {step: ctx.tensor(layer, step) for step in ("linear", "clamped", "exp", "exp_plus_one", "log")}
    ctx.node(layer, "Greater", [x, limit], [names["linear"]], step="linear")
    ctx.node(layer, "Min", [x, limit], [names["clamped"]], step="clamped")
    ctx.node(layer, "Exp", [names["clamped"]], [names["exp"]], step="exp")
    ctx.node(layer, "Add", [names["exp"], one], [names["exp_plus_one"]], step="exp_plus_one")
    ctx.node(layer, "Log", [names["exp_plus_one"]], [names["log"]], step="log")
    ctx.node(layer, "Where", [names["linear"], x, names["log"]], [layer.outputs[0]], step="select")


def _hard_sigmoid_rewrite(ctx: EmitContext, layer: layers_pb2.Layer) -> None:
    """Where(line > 0, Where(line < 1, line, 1), 0) with line = alpha x + beta.

    Branches rather than Clip(line, 0, 1): Clip's gradient counts its bounds as inside, where
    PyTorch's hardsigmoid has gradient 0 at exactly -3 and 3; strict comparisons match it.
    """
    params = layer.activation
    names = {step: ctx.tensor(layer, step) for step in ("line", "above", "below", "upper")}
    _affine(ctx, layer, params.alpha, params.beta, names["line"])
    zero, one = ctx.constant(layer, "zero", 0.0), ctx.constant(layer, "one", 1.0)
    ctx.node(layer, "Greater", [names["line"], zero], [names["above"]], step="above")
    ctx.node(layer, "Less", [names["line"], one], [names["below"]], step="below")
    ctx.node(layer, "Where", [names["below"], names["line"], one], [names["upper"]], step="upper")
    ctx.node(layer, "Where", [names["above"], names["upper"], zero], [layer.outputs[0]], step="select")


def _hard_swish_rewrite(ctx: EmitContext, layer: layers_pb2.Layer) -> None:
    """Where(x > -3, Where(x < 3, x (x/6 + 1/2), x), 0): hard swish as the spec defines it.

    Branches rather than x * Clip(x/6 + 1/2, 0, 1), whose gradient at exactly -3 and 3 took
    Clip's boundary as inside (-0.5 and 1.5); PyTorch 2.13 gives 0 and 1 there, and so do
    these strict comparisons.
    """
    x = layer.inputs[0]
    names = {step: ctx.tensor(layer, step) for step in ("above", "below", "line", "ramp", "upper")}
    low, high = ctx.constant(layer, "low", -3.0), ctx.constant(layer, "high", 3.0)
    ctx.node(layer, "Greater", [x, low], [names["above"]], step="above")
    ctx.node(layer, "Less", [x, high], [names["below"]], step="below")
    _affine(ctx, layer, 1 / 6, 0.5, names["line"])
    ctx.node(layer, "Mul", [x, names["line"]], [names["ramp"]], step="ramp")
    ctx.node(layer, "Where", [names["below"], names["ramp"], x], [names["upper"]], step="upper")
    zero = ctx.constant(layer, "zero", 0.0)
    ctx.node(layer, "Where", [names["above"], names["upper"], zero], [layer.outputs[0]], step="select")


def _gelu_rewrite(ctx: EmitContext, layer: layers_pb2.Layer) -> None:
    """The tanh approximation spelled out, 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))).

    ORT differentiates Gelu(approximate="tanh") with the exact GELU's derivative (off by 5e-4 at
    x = 1.9); the spelled-out form trains with the approximation's own derivative, as PyTorch
    does. The exact GELU stays one Gelu node, whose gradient ORT has right.
    """
    if not layer.activation.approximate_tanh:
        _PLAIN[ActivationType.GELU](ctx, layer)
        return
    x = layer.inputs[0]
    names = {
        step: ctx.tensor(layer, step)
        for step in ("square", "cube", "cubic", "inner", "scaled", "tanh", "half_t", "gate")
    }
    ctx.node(layer, "Mul", [x, x], [names["square"]], step="square")
    ctx.node(layer, "Mul", [names["square"], x], [names["cube"]], step="cube")
    cubic = ctx.constant(layer, "cubic_coefficient", 0.044715)
    ctx.node(layer, "Mul", [names["cube"], cubic], [names["cubic"]], step="cubic")
    ctx.node(layer, "Add", [x, names["cubic"]], [names["inner"]], step="inner")
    scale = ctx.constant(layer, "sqrt_2_over_pi", math.sqrt(2 / math.pi))
    ctx.node(layer, "Mul", [names["inner"], scale], [names["scaled"]], step="scaled")
    ctx.node(layer, "Tanh", [names["scaled"]], [names["tanh"]], step="tanh")
    half = ctx.constant(layer, "half", 0.5)
    ctx.node(layer, "Mul", [names["tanh"], half], [names["half_t"]], step="half_t")
    ctx.node(layer, "Add", [names["half_t"], half], [names["gate"]], step="gate")
    ctx.node(layer, "Mul", [x, names["gate"]], [layer.outputs[0]], step="gate_product")


_REWRITES: dict[int, Builder] = {
    ActivationType.RELU: _relu_rewrite,
    ActivationType.LEAKY_RELU: _leaky_relu_rewrite,
    ActivationType.ELU: _elu_rewrite,
    ActivationType.SOFTPLUS: _softplus_rewrite,
    ActivationType.HARD_SIGMOID: _hard_sigmoid_rewrite,
    ActivationType.HARD_SWISH: _hard_swish_rewrite,
    ActivationType.GELU: _gelu_rewrite,
}


def _moves_behind_max_pool(ctx: EmitContext, layer: layers_pb2.Layer) -> bool:
    """Whether a training-path ReLU feeds only a windowed max pool, and nothing else reads it.

    Max pooling then ReLU gives the same values as ReLU then max pooling, and the same gradient:
    where a window's maximum is positive both route it to the same first maximal cell, and
    where it is not, both give zero. On the pooled tensor the ReLU's kernels see a quarter of the
    cells (2x2 windows). Leaky ReLU is not moved: alpha * x can round two inputs to one value,
    which would change which cell a tied window routes its gradient to.
    """
    output = layer.outputs[0]
    readers = ctx.readers(output)
    if layer.activation.type != ActivationType.RELU or len(readers) != 1:
        return False
    (pool,) = readers
    model = ctx.model
    read_outside = {feature.name for feature in model.description.outputs}
    read_outside.update(loss.input for loss in model.update_parameters.loss_layers)
    read_outside.add(model.classifier.predicted_probabilities_name)
    return (
        pool.WhichOneof("kind") == "pooling"
        and pool.pooling.type == layers_pb2.PoolingLayer.MAX
        and not getattr(pool.pooling, "global")  # a Python keyword
        and ctx.needs_gradient(pool)
        and output not in read_outside
    )


def emit_moved_relu(ctx: EmitContext, layer: layers_pb2.Layer, pooled: str, output: str) -> None:
    """The ReLU that _moves_behind_max_pool held back, applied to the pooled tensor."""
    moved = layers_pb2.Layer()
    moved.CopyFrom(layer)  # an activation holds no weights, so the copy is small
    moved.inputs[:] = [pooled]
    moved.outputs[:] = [output]
    (_relu_rewrite if ctx.forms.relu_mask else _PLAIN[ActivationType.RELU])(ctx, moved)


def emit_activation(ctx: EmitContext, layer: layers_pb2.Layer) -> None:
    kind = layer.activation.type
    if ctx.forms.relu_behind_max_pool and ctx.needs_gradient(layer) and _moves_behind_max_pool(ctx, layer):
        ctx.activations_after_pool[layer.outputs[0]] = layer
        return
    rewrite = ctx.forms.relu_mask if kind == ActivationType.RELU else ctx.forms.activation_rewrites
    if rewrite and ctx.needs_gradient(layer) and kind in _REWRITES:
        _REWRITES[kind](ctx, layer)
        return
    build = _PLAIN.get(kind)
    if build is None:
        allowed = ", ".join(ActivationType.Name(t) for t in _PLAIN)
        raise MlspecError(f"{where(layer)}.activation.type: not set; use one of {allowed}")
    build(ctx, layer)


def emit_softmax(ctx: EmitContext, layer: layers_pb2.Layer) -> None:
    """Also records the logits, so cross-entropy on the probabilities can be computed stably.

    Only a softmax over the last axis is recorded: cross-entropy reads classes from the last axis,
    and the logits of a softmax over another axis are not that distribution's logits.
    """
    axis = int(layer.softmax.axis) or -1
    ctx.node(layer, "Softmax", [layer.inputs[0]], [layer.outputs[0]], axis=axis)
    dims = ctx.dims(layer.inputs[0])
    if axis == -1 or (dims is not None and axis == len(dims) - 1):
        ctx.logits_of[layer.outputs[0]] = layer.inputs[0]


def restore_relu_nodes(graph: onnx.GraphProto) -> None:
    """Turn each x * Cast(x > 0) of a forward-only graph (the eval model) back into one Relu.

    The mask form pays off only in a gradient; forward it runs three kernels where Relu runs
    one (an eval step of the BNNS-style CNN took 590 us instead of 400 us). Matched by
    structure, not by name, so any graph holding the exact pattern is simplified correctly.
    """
    producers = {output: node for node in graph.node for output in node.output}
    uses = Counter(name for node in graph.node for name in node.input)
    uses.update(value.name for value in graph.output)
    zeros = {
        tensor.name
        for tensor in graph.initializer
        if tensor.data_type == onnx.TensorProto.FLOAT
        and numpy_helper.to_array(tensor).size == 1
        and float(numpy_helper.to_array(tensor).reshape(())) == 0.0
    }
    retired: set[str] = set()  # outputs of the Greater and Cast nodes folded into a Relu
    thresholds: set[str] = set()
    for node in graph.node:
        if node.op_type != "Mul" or node.domain not in ("", "ai.onnx") or len(node.input) != 2:
            continue
        source, mask = node.input
        cast = producers.get(mask)
        greater = producers.get(cast.input[0]) if cast is not None and cast.op_type == "Cast" else None
        if (
            cast is None
            or greater is None
            or greater.op_type != "Greater"
            or list(greater.input[:1]) != [source]
            or greater.input[1] not in zeros
            or [a.i for a in cast.attribute if a.name == "to"] != [onnx.TensorProto.FLOAT]
            or uses[mask] != 1
            or uses[greater.output[0]] != 1
        ):
            continue
        node.op_type = "Relu"
        del node.input[1:]
        retired.update((mask, greater.output[0]))
        thresholds.add(greater.input[1])
    if not retired:
        return
    kept = [node for node in graph.node if not retired & set(node.output)]
    del graph.node[:]
    graph.node.extend(kept)
    consumed = {name for node in graph.node for name in node.input} | {v.name for v in graph.input}
    unused = thresholds - consumed  # once: per initializer it made this loop quadratic (1.7 s at 3k)
    if unused:
        initializers = [t for t in graph.initializer if t.name not in unused]
        del graph.initializer[:]
        graph.initializer.extend(initializers)
    info = [value for value in graph.value_info if value.name not in retired]
    del graph.value_info[:]
    graph.value_info.extend(info)


EMITTERS: dict[str, Emitter] = {"activation": emit_activation, "softmax": emit_softmax}
