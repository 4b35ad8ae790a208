"""Gradients of elementwise arithmetic, with numpy broadcasting summed back to each input's shape.

Ties follow PyTorch's documented conventions: Max and Min share the gradient equally among the
inputs that equal the result (torch.maximum gives each of two tied inputs half), Clip passes it
where min <= x <= max (torch.clamp), Abs gives 0 at 0 (torch.sign).
"""

from __future__ import annotations

import onnx

from mlspec.backends.portable.grad_rules.base import FLOAT_TYPES, GradContext, Rule, present

Grads = list[str | None]


def _out_dims(g: GradContext, node: onnx.NodeProto) -> list[int | str | None] | None:
    return g.dims(node.output[0])


def add(g: GradContext, node: onnx.NodeProto, grads: Grads, needed: list[bool]) -> Grads:
    """Add, Sum and Expand: every input receives dY, summed over the axes it was broadcast along."""
    (dy,) = grads[:1]
    assert dy is not None
    out = _out_dims(g, node)
    if node.op_type == "Expand":
        return [g.reduce_to(dy, out, node.input[0]) if needed[0] else None, None]
    return [
        g.reduce_to(dy, out, name) if want else None for name, want in zip(node.input, needed, strict=True)
    ]


def sub(g: GradContext, node: onnx.NodeProto, grads: Grads, needed: list[bool]) -> Grads:
    (dy,) = grads[:1]
    assert dy is not None
    out = _out_dims(g, node)
    a, b = node.input
    da = g.reduce_to(dy, out, a) if needed[0] else None
    db = g.op("Neg", [g.reduce_to(dy, out, b)], "neg", like=b) if needed[1] else None
    return [da, db]


def mul(g: GradContext, node: onnx.NodeProto, grads: Grads, needed: list[bool]) -> Grads:
    (dy,) = grads[:1]
    assert dy is not None
    out = _out_dims(g, node)
    a, b = node.input
    if a == b:  # a square: 2 * dY * A, one contribution instead of two equal ones and their sum
        doubled = g.op("Add", [g.op("Mul", [dy, a], "mul_da", like=a)] * 2, "square_dx", like=a)
        return [g.reduce_to(doubled, out, a) if needed[0] else None, None]
    da = g.reduce_to(g.op("Mul", [dy, b], "mul_da", like=a), out, a) if needed[0] else None
    db = g.reduce_to(g.op("Mul", [dy, a], "mul_db", like=b), out, b) if needed[1] else None
    return [da, db]


def div(g: GradContext, node: onnx.NodeProto, grads: Grads, needed: list[bool]) -> Grads:
    """Y = A / B: dA = dY / B, dB = -dY * Y / B."""
    (dy,) = grads[:1]
    assert dy is not None
    out = _out_dims(g, node)
    a, b = node.input
    da = g.reduce_to(g.op("Div", [dy, b], "div_da", like=a), out, a) if needed[0] else None
    db = None
    if needed[1]:
        ratio = g.op("Div", [node.output[0], b], "y_over_b", like=b)
        db = g.op("Neg", [g.reduce_to(g.op("Mul", [dy, ratio], "div_db", like=b), out, b)], "neg", like=b)
    return [da, db]


def pow_(g: GradContext, node: onnx.NodeProto, grads: Grads, needed: list[bool]) -> Grads:
    """Y = X ^ P: dX = dY * P * X^(P - 1), dP = dY * Y * log(X)."""
    (dy,) = grads[:1]
    assert dy is not None
    out = _out_dims(g, node)
    x, p = node.input
    dx = dp = None
    if needed[0]:
        p_x = g.op("CastLike", [p, x], "exponent", like=x)
        lowered = g.op("Pow", [x, g.op("Sub", [p_x, g.const(1.0, x)], "p_minus_one", like=x)], "pow", like=x)
        local = g.op("Mul", [lowered, p_x], "slope", like=x)
        dx = g.reduce_to(g.op("Mul", [dy, local], "pow_dx", like=x), out, x)
    if needed[1]:
        local = g.op("Mul", [node.output[0], g.op("Log", [x], "log", like=x)], "slope", like=p)
        dp = g.reduce_to(g.op("Mul", [dy, local], "pow_dp", like=p), out, p)
    return [dx, dp]


def _unary(build: str) -> Rule:
    """Rules whose input gradient is dY combined with one local factor of X or Y."""

    def rule(g: GradContext, node: onnx.NodeProto, grads: Grads, needed: list[bool]) -> Grads:
        (dy,) = grads[:1]
        assert dy is not None
        x, y = node.input[0], node.output[0]
        if build == "neg":
            return [g.op("Neg", [dy], "neg", like=x)]
        if build == "exp":  # dY * Y
            return [g.op("Mul", [dy, y], "exp_dx", like=x)]
        if build == "log":  # dY / X
            return [g.op("Div", [dy, x], "log_dx", like=x)]
        if build == "sqrt":  # dY * 0.5 / Y
            return [g.op("Div", [g.scale(dy, 0.5, x), y], "sqrt_dx", like=x)]
        if build == "reciprocal":  # -dY * Y^2
            square = g.op("Mul", [y, y], "square", like=x)
            return [g.op("Neg", [g.op("Mul", [dy, square], "reciprocal_dx", like=x)], "neg", like=x)]
        assert build == "abs"  # dY * sign(X)
        return [g.op("Mul", [dy, g.op("Sign", [x], "sign", like=x)], "abs_dx", like=x)]

    return rule


def identity(g: GradContext, node: onnx.NodeProto, grads: Grads, needed: list[bool]) -> Grads:
    return [grads[0]]


def cast(g: GradContext, node: onnx.NodeProto, grads: Grads, needed: list[bool]) -> Grads:
    """The gradient is cast back to the input's float type; an integer input gets none."""
    (dy,) = grads[:1]
    assert dy is not None
    dtype = g.dtype(node.input[0])
    if dtype not in FLOAT_TYPES:
        return [None]
    return [g.op("Cast", [dy], "cast_back", like=node.input[0], to=dtype)]


def extremum(g: GradContext, node: onnx.NodeProto, grads: Grads, needed: list[bool]) -> Grads:
    """Max and Min: dY goes to the inputs equal to Y, split equally among ties."""
    (dy,) = grads[:1]
    assert dy is not None
    y, out = node.output[0], _out_dims(g, node)
    masks = [
        g.op("Cast", [g.op("Equal", [name, y], "is_extremum")], "mask", like=y, to=g.dtype(y))
        for name in node.input
    ]
    ties = masks[0]
    for mask in masks[1:]:
        ties = g.op("Add", [ties, mask], "ties", like=y)
    share = g.op("Div", [dy, ties], "share", like=y) if len(masks) > 1 else dy
    return [
        g.reduce_to(g.op("Mul", [share, mask], "extremum_dx", like=name), out, name) if want else None
        for name, mask, want in zip(node.input, masks, needed, strict=True)
    ]


def clip(g: GradContext, node: onnx.NodeProto, grads: Grads, needed: list[bool]) -> Grads:
    """dX = dY where min <= X <= max (inclusive, as torch.clamp); dmin and dmax take the rest."""
    (dy,) = grads[:1]
    assert dy is not None
    x = node.input[0]
    zero = g.const(0.0, x)
    result: Grads = [dy, None, None]
    inside = None
    for index, compare in ((1, "Less"), (2, "Greater")):
        if not present(node, index):
            continue
        outside = g.op(compare, [x, node.input[index]], "outside")
        if needed[index]:
            beyond = g.op("Where", [outside, dy, zero], "clip_dbound", like=x)
            result[index] = g.op("ReduceSum", [beyond], "sum_all", like=x, keepdims=0)
        inside = outside if inside is None else g.op("Or", [inside, outside], "outside")
    if inside is not None:
        result[0] = g.op("Where", [inside, zero, dy], "clip_dx", like=x)
    return result[: len(node.input)]


def where(g: GradContext, node: onnx.NodeProto, grads: Grads, needed: list[bool]) -> Grads:
    (dy,) = grads[:1]
    assert dy is not None
    condition, a, b = node.input
    out = _out_dims(g, node)
    zero = g.const(0.0, a)
    da = g.reduce_to(g.op("Where", [condition, dy, zero], "where_da", like=a), out, a) if needed[1] else None
    db = g.reduce_to(g.op("Where", [condition, zero, dy], "where_db", like=b), out, b) if needed[2] else None
    return [None, da, db]


RULES: dict[str, Rule] = {
    "Add": add,
    "Sum": add,
    "Expand": add,
    "Sub": sub,
    "Mul": mul,
    "Div": div,
    "Pow": pow_,
    "Neg": _unary("neg"),
    "Exp": _unary("exp"),
    "Log": _unary("log"),
    "Sqrt": _unary("sqrt"),
    "Reciprocal": _unary("reciprocal"),
    "Abs": _unary("abs"),
    "Identity": identity,
    "Cast": cast,
    "Max": extremum,
    "Min": extremum,
    "Clip": clip,
    "Where": where,
}
