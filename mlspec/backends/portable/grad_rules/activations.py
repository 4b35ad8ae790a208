"""Gradients of the activations, softmax and log-softmax, following PyTorch's backward kernels.

Boundary conventions are PyTorch's (torch 2.x, aten/src/ATen/native/cpu/Activation.cpp):
ReLU and leaky ReLU take the negative side at exactly 0, ELU takes alpha * exp(x) at x <= 0
(so 1 at 0 when alpha is 1), hard sigmoid passes the gradient only strictly inside its ramp, and
hard swish is 0 up to -3, x/3 + 1/2 strictly between -3 and 3, and 1 from 3 on (measured with
torch 2.13's vectorised CPU kernel, which is what contiguous tensors run: 0 at -3 and 1 at 3).
"""

from __future__ import annotations

import math

import onnx

from mlspec.backends.portable.grad_rules.base import GradContext, Rule, attribute

Grads = list[str | None]


def _dy(grads: Grads) -> str:
    dy = grads[0]
    assert dy is not None
    return dy


def relu(g: GradContext, node: onnx.NodeProto, grads: Grads, needed: list[bool]) -> Grads:
    """dy * Cast(x > 0): onnxruntime's CPU Where runs about 3x slower than Greater, Cast and Mul
    together (measured at 200k elements). Equal to masking for finite values; an infinite or NaN
    upstream gradient at x <= 0 gives NaN rather than 0, in a step that has already diverged."""
    x = node.input[0]
    positive = g.op("Greater", [x, g.const(0.0, x)], "positive")
    mask = g.op("Cast", [positive], "mask", like=x, to=g.dtype(x))
    return [g.op("Mul", [_dy(grads), mask], "relu_dx", like=x)]


def leaky_relu(g: GradContext, node: onnx.NodeProto, grads: Grads, needed: list[bool]) -> Grads:
    x, dy = node.input[0], _dy(grads)
    positive = g.op("Greater", [x, g.const(0.0, x)], "positive")
    negative = g.scale(dy, float(attribute(node, "alpha", 0.01)), x)
    return [g.op("Where", [positive, dy, negative], "leaky_relu_dx", like=x)]


def sigmoid(g: GradContext, node: onnx.NodeProto, grads: Grads, needed: list[bool]) -> Grads:
    """dY * Y * (1 - Y)."""
    x, y = node.input[0], node.output[0]
    complement = g.op("Sub", [g.const(1.0, x), y], "one_minus_y", like=x)
    slope = g.op("Mul", [y, complement], "sigmoid_slope", like=x)
    return [g.op("Mul", [_dy(grads), slope], "sigmoid_dx", like=x)]


def tanh(g: GradContext, node: onnx.NodeProto, grads: Grads, needed: list[bool]) -> Grads:
    """dY * (1 - Y^2)."""
    x, y = node.input[0], node.output[0]
    slope = g.op("Sub", [g.const(1.0, x), g.op("Mul", [y, y], "square", like=x)], "tanh_slope", like=x)
    return [g.op("Mul", [_dy(grads), slope], "tanh_dx", like=x)]


def gelu(g: GradContext, node: onnx.NodeProto, grads: Grads, needed: list[bool]) -> Grads:
    """Exact: Phi(x) + x phi(x). Tanh form: the derivative of the tanh approximation itself,
    0.5 (1 + t) + 0.5 x (1 - t^2) k (1 + 3 c x^2) with t = tanh(k (x + c x^3)), as PyTorch."""
    x, dy = node.input[0], _dy(grads)
    if attribute(node, "approximate", "none") == "tanh":
        k, c = math.sqrt(2 / math.pi), 0.044715
        square = g.op("Mul", [x, x], "square", like=x)
        cube = g.op("Mul", [square, x], "cube", like=x)
        inner = g.scale(g.op("Add", [x, g.scale(cube, c, x)], "inner", like=x), k, x)
        t = g.op("Tanh", [inner], "tanh", like=x)
        left = g.scale(g.op("Add", [t, g.const(1.0, x)], "one_plus_t", like=x), 0.5, x)
        sech2 = g.op("Sub", [g.const(1.0, x), g.op("Mul", [t, t], "t_squared", like=x)], "sech2", like=x)
        inner_slope = g.op("Add", [g.scale(square, 3 * c * k, x), g.const(k, x)], "inner_slope", like=x)
        right = g.op(
            "Mul", [g.scale(x, 0.5, x), g.op("Mul", [sech2, inner_slope], "r", like=x)], "right", like=x
        )
        slope = g.op("Add", [left, right], "gelu_slope", like=x)
    else:
        erf = g.op("Erf", [g.scale(x, 1 / math.sqrt(2), x)], "erf", like=x)
        cdf = g.scale(g.op("Add", [erf, g.const(1.0, x)], "one_plus_erf", like=x), 0.5, x)
        square = g.op("Mul", [x, x], "square", like=x)
        density = g.scale(
            g.op("Exp", [g.scale(square, -0.5, x)], "gauss", like=x), 1 / math.sqrt(2 * math.pi), x
        )
        slope = g.op("Add", [cdf, g.op("Mul", [x, density], "x_pdf", like=x)], "gelu_slope", like=x)
    return [g.op("Mul", [dy, slope], "gelu_dx", like=x)]


def elu(g: GradContext, node: onnx.NodeProto, grads: Grads, needed: list[bool]) -> Grads:
    """dY for x > 0, else dY * alpha * exp(x), computed as dY * (Y + alpha) without an Exp."""
    x, y, dy = node.input[0], node.output[0], _dy(grads)
    alpha = float(attribute(node, "alpha", 1.0))
    positive = g.op("Greater", [x, g.const(0.0, x)], "positive")
    negative = g.op("Mul", [dy, g.op("Add", [y, g.const(alpha, x)], "y_plus_alpha", like=x)], "neg", like=x)
    return [g.op("Where", [positive, dy, negative], "elu_dx", like=x)]


def softplus(g: GradContext, node: onnx.NodeProto, grads: Grads, needed: list[bool]) -> Grads:
    x = node.input[0]
    return [g.op("Mul", [_dy(grads), g.op("Sigmoid", [x], "sigmoid", like=x)], "softplus_dx", like=x)]


def _between(g: GradContext, x: str, low: float, high: float, *, inclusive: bool) -> str:
    ops = ("GreaterOrEqual", "LessOrEqual") if inclusive else ("Greater", "Less")
    above = g.op(ops[0], [x, g.const(low, x)], "above")
    below = g.op(ops[1], [x, g.const(high, x)], "below")
    return g.op("And", [above, below], "inside")


def hard_sigmoid(g: GradContext, node: onnx.NodeProto, grads: Grads, needed: list[bool]) -> Grads:
    """alpha * dY strictly inside 0 < alpha x + beta < 1."""
    x = node.input[0]
    alpha, beta = float(attribute(node, "alpha", 0.2)), float(attribute(node, "beta", 0.5))
    line = g.op("Add", [g.scale(x, alpha, x), g.const(beta, x)], "line", like=x)
    inside = _between(g, line, 0.0, 1.0, inclusive=False)
    return [
        g.op("Where", [inside, g.scale(_dy(grads), alpha, x), g.const(0.0, x)], "hard_sigmoid_dx", like=x)
    ]


def hard_swish(g: GradContext, node: onnx.NodeProto, grads: Grads, needed: list[bool]) -> Grads:
    """0 for x <= -3, x / 3 + 1/2 for -3 < x < 3, 1 for x >= 3 (torch 2.13 on CPU)."""
    x, dy = node.input[0], _dy(grads)
    ramp = g.op("Add", [g.scale(x, 1 / 3, x), g.const(0.5, x)], "ramp", like=x)
    above = g.op("GreaterOrEqual", [x, g.const(3.0, x)], "above")
    below = g.op("LessOrEqual", [x, g.const(-3.0, x)], "below")
    slope = g.op("Where", [above, g.const(1.0, x), ramp], "upper", like=x)
    slope = g.op("Where", [below, g.const(0.0, x), slope], "hard_swish_slope", like=x)
    return [g.op("Mul", [dy, slope], "hard_swish_dx", like=x)]


def _axis(node: onnx.NodeProto) -> int:
    return int(attribute(node, "axis", -1))


def softmax(g: GradContext, node: onnx.NodeProto, grads: Grads, needed: list[bool]) -> Grads:
    """Y * (dY - sum(dY * Y) over the axis)."""
    x, y, dy = node.input[0], node.output[0], _dy(grads)
    weighted = g.op("Mul", [dy, y], "dy_y", like=x)
    total = g.op("ReduceSum", [weighted, g.ints([_axis(node)])], "sum", like=x, keepdims=1)
    return [g.op("Mul", [y, g.op("Sub", [dy, total], "centered", like=x)], "softmax_dx", like=x)]


def log_softmax(g: GradContext, node: onnx.NodeProto, grads: Grads, needed: list[bool]) -> Grads:
    """dY - exp(Y) * sum(dY) over the axis."""
    x, y, dy = node.input[0], node.output[0], _dy(grads)
    return [log_softmax_grad(g, x, y, dy, _axis(node))]


def log_softmax_grad(g: GradContext, x: str, log_probabilities: str, dy: str, axis: int) -> str:
    total = g.op("ReduceSum", [dy, g.ints([axis])], "sum", like=x, keepdims=1)
    probabilities = g.op("Exp", [log_probabilities], "probabilities", like=x)
    spread = g.op("Mul", [probabilities, total], "spread", like=x)
    return g.op("Sub", [dy, spread], "log_softmax_dx", like=x)


RULES: dict[str, Rule] = {
    "Relu": relu,
    "LeakyRelu": leaky_relu,
    "Sigmoid": sigmoid,
    "Tanh": tanh,
    "Gelu": gelu,
    "Elu": elu,
    "Softplus": softplus,
    "HardSigmoid": hard_sigmoid,
    "HardSwish": hard_swish,
    "Softmax": softmax,
    "LogSoftmax": log_softmax,
}
