"""Gradients of the ops that only move values: reshapes, transposes, concat, split, slice, gather."""

from __future__ import annotations

import numpy as np
import onnx

from mlspec.backends.portable.grad_rules.base import GradContext, Rule, attribute, present

Grads = list[str | None]


def reshape_back(g: GradContext, node: onnx.NodeProto, grads: Grads, needed: list[bool]) -> Grads:
    """Reshape, Flatten, Squeeze, Unsqueeze: the gradient takes the input's shape back."""
    dy = grads[0]
    assert dy is not None
    x = node.input[0]
    return [g.op("Reshape", [dy, g.shape(x)], "reshape_back", like=x), *([None] * (len(node.input) - 1))]


def transpose(g: GradContext, node: onnx.NodeProto, grads: Grads, needed: list[bool]) -> Grads:
    dy = grads[0]
    assert dy is not None
    x = node.input[0]
    perm = list(attribute(node, "perm", [])) or list(reversed(range(g.rank(x))))
    inverse = [int(i) for i in np.argsort(perm)]
    return [g.op("Transpose", [dy], "transpose_back", like=x, perm=inverse)]


def _axis(g: GradContext, node: onnx.NodeProto, tensor: str, default: int = 0) -> int:
    return int(attribute(node, "axis", default)) % g.rank(tensor)


def _sizes_along(g: GradContext, names: list[str], axis: int) -> str:
    """The sizes of `names` along `axis` as one int64 vector (static when known)."""
    sizes = [(g.dims(name) or [None] * (axis + 1))[axis] for name in names]
    if all(isinstance(size, int) for size in sizes):
        return g.ints([int(size) for size in sizes])  # type: ignore[arg-type]
    parts = [g.op("Shape", [name], "size_along", start=axis, end=axis + 1) for name in names]
    return g.op("Concat", parts, "sizes", axis=0)


def concat(g: GradContext, node: onnx.NodeProto, grads: Grads, needed: list[bool]) -> Grads:
    """Split dY along the axis at the inputs' sizes."""
    dy = grads[0]
    assert dy is not None
    names = list(node.input)
    axis = _axis(g, node, names[0])
    parts = g.op_multi("Split", [dy, _sizes_along(g, names, axis)], "split_back", len(names), axis=axis)
    return [part if want else None for part, want in zip(parts, needed, strict=True)]


def split(g: GradContext, node: onnx.NodeProto, grads: Grads, needed: list[bool]) -> Grads:
    """Concat the outputs' gradients, with zeros for outputs no gradient reached."""
    x = node.input[0]
    axis = _axis(g, node, x)
    parts = [
        grad if grad is not None else g.op("Expand", [g.const(0.0, x), g.shape(output)], "zeros", like=x)
        for output, grad in zip(node.output, grads, strict=True)
    ]
    return [g.op("Concat", parts, "concat_back", like=x, axis=axis), None]


def slice_(g: GradContext, node: onnx.NodeProto, grads: Grads, needed: list[bool]) -> Grads:
    """Scatter dY into zeros at the positions the slice read.

    The positions come from slicing a tensor of flat indices with the node's own starts, ends,
    axes and steps, so every slice form (negative, clamped, strided) is covered by one rule.
    """
    dy = grads[0]
    assert dy is not None
    x = node.input[0]
    size = g.op("Size", [x], "size")
    flat = g.op(
        "Range",
        [g.const_typed(np.asarray(0, np.int64)), size, g.const_typed(np.asarray(1, np.int64))],
        "flat",
    )
    positions = g.op("Reshape", [flat, g.shape(x)], "positions")
    picked = g.op("Slice", [positions, *node.input[1:]], "picked")
    zeros = g.op(
        "Expand", [g.const(0.0, x), g.op("Unsqueeze", [size, g.ints([0])], "size_vector")], "zeros", like=x
    )
    scattered = g.op(
        "ScatterElements",
        [
            zeros,
            g.op("Reshape", [picked, g.ints([-1])], "indices"),
            g.op("Reshape", [dy, g.ints([-1])], "flat_dy"),
        ],
        "scattered",
        like=x,
    )
    return [g.op("Reshape", [scattered, g.shape(x)], "slice_dx", like=x), *([None] * (len(node.input) - 1))]


def gather(g: GradContext, node: onnx.NodeProto, grads: Grads, needed: list[bool]) -> Grads:
    """Rows gathered along axis 0 (embeddings): ScatterND with reduction 'add' sums repeated ids."""
    dy = grads[0]
    assert dy is not None
    data, indices = node.input[0], node.input[1]
    if _axis(g, node, data) != 0:
        raise ValueError("only Gather along axis 0 (an embedding lookup) has a gradient rule")
    zeros = g.op("Expand", [g.const(0.0, data), g.shape(data)], "zeros", like=data)
    ids = g.op("Unsqueeze", [indices, g.ints([-1])], "ids")
    ids = g.op("Cast", [ids], "ids64", to=onnx.TensorProto.INT64)
    return [g.op("ScatterND", [zeros, ids, dy], "gather_dx", like=data, reduction="add"), None]


def dropout(g: GradContext, node: onnx.NodeProto, grads: Grads, needed: list[bool]) -> Grads:
    """dY * mask / (1 - ratio), reusing the forward's mask (added to the node when undeclared)."""
    dy = grads[0]
    assert dy is not None
    x = node.input[0]
    training = g.constant_value(node.input[2]) if present(node, 2) else np.asarray(False)
    if training is None:
        raise ValueError("the gradient needs training_mode to be a constant")
    ratio = g.constant_value(node.input[1]) if present(node, 1) else np.asarray(0.5)
    if not bool(training) or ratio is None or float(ratio) == 0.0:
        if ratio is None:
            raise ValueError("the gradient needs the ratio to be a constant")
        return [dy, None, None]
    if len(node.output) < 2 or not node.output[1]:
        del node.output[1:]
        node.output.append(g.fresh("dropout_mask"))
    mask = g.op("Cast", [node.output[1]], "mask", like=x, to=g.dtype(x))
    kept = g.op("Mul", [dy, mask], "kept", like=x)
    return [g.scale(kept, 1.0 / (1.0 - float(ratio)), x), None, None]


RULES: dict[str, Rule] = {
    "Reshape": reshape_back,
    "Flatten": reshape_back,
    "Squeeze": reshape_back,
    "Unsqueeze": reshape_back,
    "Transpose": transpose,
    "Concat": concat,
    "Split": split,
    "Slice": slice_,
    "Gather": gather,
    "Dropout": dropout,
}
