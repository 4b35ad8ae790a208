"""Gradients of batch normalisation (training and inference mode) and layer normalisation.

Both recompute the batch statistics from the input rather than reading saved ones: opset 21's
BatchNormalization outputs only the running statistics, and recomputing costs two reductions.
With xhat = (x - mean) * invstd over the normalised axes and g = dY * scale:
dx = invstd * (g - mean(g) - xhat * mean(g * xhat)), dscale = sum(dY * xhat), dbias = sum(dY).
The running statistics are outputs that no gradient flows through.
"""

from __future__ import annotations

import onnx

from mlspec.backends.portable.grad_rules.base import GradContext, Rule, attribute, present

Grads = list[str | None]


def _normalised(g: GradContext, x: str, axes: str, epsilon: float) -> tuple[str, str]:
    """(xhat, invstd) of x over `axes`, with the biased variance the forward normalises by."""
    mean = g.op("ReduceMean", [x, axes], "mean", like=x, keepdims=1)
    centered = g.op("Sub", [x, mean], "centered", like=x)
    variance = g.op("ReduceMean", [g.op("Mul", [centered, centered], "square", like=x), axes], "var", like=x)
    shifted = g.op("Add", [variance, g.const(epsilon, x)], "var_eps", like=x)
    invstd = g.op("Reciprocal", [g.op("Sqrt", [shifted], "std", like=x)], "invstd", like=x)
    return g.op("Mul", [centered, invstd], "xhat", like=x), invstd


def _input_gradient(g: GradContext, scaled_dy: str, xhat: str, invstd: str, axes: str, *, like: str) -> str:
    mean_dy = g.op("ReduceMean", [scaled_dy, axes], "mean_g", like=like)
    product = g.op("Mul", [scaled_dy, xhat], "g_xhat", like=like)
    projection = g.op(
        "Mul", [xhat, g.op("ReduceMean", [product, axes], "mean_g_xhat", like=like)], "proj", like=like
    )
    centered = g.op(
        "Sub", [g.op("Sub", [scaled_dy, mean_dy], "g_centered", like=like), projection], "r", like=like
    )
    return g.op("Mul", [centered, invstd], "norm_dx", like=like)


def batch_norm(g: GradContext, node: onnx.NodeProto, grads: Grads, needed: list[bool]) -> Grads:
    dy = grads[0]
    assert dy is not None
    x, scale = node.input[0], node.input[1]
    rank = g.rank(x)
    epsilon = float(attribute(node, "epsilon", 1e-5))
    reduced = [0, *range(2, rank)]
    axes = g.ints(reduced)
    channel = g.ints([-1, *([1] * (rank - 2))])
    scale_b = g.op("Reshape", [scale, channel], "scale_b", like=x)
    result: Grads = [None] * len(node.input)
    if int(attribute(node, "training_mode", 0)):
        xhat, invstd = _normalised(g, x, axes, epsilon)
        if needed[0]:
            scaled_dy = g.op("Mul", [dy, scale_b], "g", like=x)
            result[0] = _input_gradient(g, scaled_dy, xhat, invstd, axes, like=x)
    else:
        if (len(needed) > 3 and needed[3]) or (len(needed) > 4 and needed[4]):
            raise ValueError("inference-mode statistics have no gradient rule")
        mean = g.op("Reshape", [node.input[3], channel], "mean", like=x)
        variance = g.op("Reshape", [node.input[4], channel], "var", like=x)
        std = g.op("Sqrt", [g.op("Add", [variance, g.const(epsilon, x)], "var_eps", like=x)], "std", like=x)
        invstd = g.op("Reciprocal", [std], "invstd", like=x)
        xhat = g.op("Mul", [g.op("Sub", [x, mean], "centered", like=x), invstd], "xhat", like=x)
        if needed[0]:
            result[0] = g.op("Mul", [dy, g.op("Mul", [scale_b, invstd], "slope", like=x)], "bn_dx", like=x)
    if needed[1]:
        result[1] = g.op(
            "ReduceSum", [g.op("Mul", [dy, xhat], "dy_xhat", like=x), axes], "dscale", like=x, keepdims=0
        )
    if needed[2]:
        result[2] = g.op("ReduceSum", [dy, axes], "dbias", like=x, keepdims=0)
    return result


def layer_norm(g: GradContext, node: onnx.NodeProto, grads: Grads, needed: list[bool]) -> Grads:
    dy = grads[0]
    assert dy is not None
    if any(grad is not None for grad in grads[1:]):
        raise ValueError("the Mean and InvStdDev outputs have no gradient rule")
    x, scale = node.input[0], node.input[1]
    rank = g.rank(x)
    axis = int(attribute(node, "axis", -1)) % rank
    axes = g.ints(list(range(axis, rank)))
    xhat, invstd = _normalised(g, x, axes, float(attribute(node, "epsilon", 1e-5)))
    out = g.dims(node.output[0])
    result: Grads = [None] * len(node.input)
    if needed[0]:
        scaled_dy = g.op("Mul", [dy, scale], "g", like=x)
        result[0] = _input_gradient(g, scaled_dy, xhat, invstd, axes, like=x)
    if needed[1]:
        result[1] = g.reduce_to(g.op("Mul", [dy, xhat], "dy_xhat", like=scale), out, scale)
    if present(node, 2) and needed[2]:
        result[2] = g.reduce_to(dy, out, node.input[2])
    return result


RULES: dict[str, Rule] = {"BatchNormalization": batch_norm, "LayerNormalization": layer_norm}
