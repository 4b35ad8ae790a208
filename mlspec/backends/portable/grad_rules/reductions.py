"""Gradients of the reductions and of SoftmaxCrossEntropyLoss, the ops the loss builders end in."""

from __future__ import annotations

import math

import numpy as np
import onnx

from mlspec.backends.portable.grad_rules.activations import log_softmax_grad
from mlspec.backends.portable.grad_rules.base import GradContext, Rule, attribute, present

Grads = list[str | None]


def _reduced_axes(g: GradContext, node: onnx.NodeProto, rank: int) -> list[int] | None:
    """The axes a Reduce* node reduces (normalised), None when it reduces nothing."""
    if present(node, 1):
        value = g.constant_value(node.input[1])
        if value is None:
            raise ValueError(f"{node.op_type} {node.name!r}: the gradient needs constant axes")
        axes = [int(a) for a in np.asarray(value).reshape(-1)]
    else:
        axes = [int(a) for a in attribute(node, "axes", [])]
    if not axes:
        return None if attribute(node, "noop_with_empty_axes", 0) else list(range(rank))
    return sorted(a % rank for a in axes)


def count_ratio(g: GradContext, larger: str, smaller: str, like: str) -> str:
    """Size(larger) / Size(smaller) in the float type of `like`: static when both shapes are known."""
    big, small = g.dims(larger), g.dims(smaller)
    if big is not None and small is not None and all(isinstance(d, int) for d in (*big, *small)):
        return g.const(math.prod(big) / math.prod(small), like)  # type: ignore[arg-type]
    sizes = [
        g.op("Cast", [g.op("Size", [name], "size")], "size_float", like=like, to=g.dtype(like))
        for name in (larger, smaller)
    ]
    return g.op("Div", sizes, "count", like=like)


def reduce_sum_or_mean(g: GradContext, node: onnx.NodeProto, grads: Grads, needed: list[bool]) -> Grads:
    """dY broadcast back over the reduced axes (divided by their size for ReduceMean)."""
    dy = grads[0]
    assert dy is not None
    x = node.input[0]
    axes = _reduced_axes(g, node, g.rank(x))
    if axes is None:
        return [dy, None]
    if not attribute(node, "keepdims", 1):
        dy = g.op("Unsqueeze", [dy, g.ints(axes)], "unsqueeze", like=x)
    if node.op_type == "ReduceMean":  # divided while small: one pass over the input's size, not two
        dy = g.op("Div", [dy, count_ratio(g, x, node.output[0], x)], "mean_dx", like=x)
    return [g.op("Expand", [dy, g.shape(x)], "expand", like=x), None]


def softmax_cross_entropy(g: GradContext, node: onnx.NodeProto, grads: Grads, needed: list[bool]) -> Grads:
    """d loss / d scores = (softmax(scores) - onehot(labels)) * dLoss, over N for the mean.

    Classes are on axis 1 (ONNX's layout [N, C, d1, ...]). Per-class weights and ignore_index
    change the normaliser; the loss builders use neither, so the rule refuses them.
    """
    if present(node, 2) or attribute(node, "ignore_index", None) is not None:
        raise ValueError(f"SoftmaxCrossEntropyLoss {node.name!r}: weights and ignore_index have no rule")
    scores, labels = node.input[0], node.input[1]
    result: str | None = None
    d_loss = grads[0]
    log_probabilities = node.output[1] if len(node.output) > 1 and node.output[1] else None
    if d_loss is not None:
        if log_probabilities is not None:
            probabilities = g.op("Exp", [log_probabilities], "probabilities", like=scores)
        else:
            probabilities = g.op("Softmax", [scores], "probabilities", like=scores, axis=1)
        onehot = _one_hot(g, scores, labels)
        residual = g.op("Sub", [probabilities, onehot], "residual", like=scores)
        reduction = attribute(node, "reduction", "mean")
        scale = d_loss
        if reduction == "none":
            scale = g.op("Unsqueeze", [d_loss, g.ints([1])], "unsqueeze", like=scores)
        elif reduction == "mean":
            scale = g.op(
                "Div", [d_loss, count_ratio(g, labels, node.output[0], scores)], "per_example", like=scores
            )
        result = g.op("Mul", [residual, scale], "cross_entropy_dx", like=scores)
    if log_probabilities is not None and grads[1] is not None:
        extra = log_softmax_grad(g, scores, log_probabilities, grads[1], 1)
        result = extra if result is None else g.op("Add", [result, extra], "accumulate", like=scores)
    return [result, None]


def _one_hot(g: GradContext, scores: str, labels: str) -> str:
    """Cast(Unsqueeze(labels, 1) == class index) in the scores' type; ORT has no double OneHot."""
    classes = g.op("Squeeze", [g.op("Shape", [scores], "classes", start=1, end=2)], "class_count")
    indices = g.op("Range", [_scalar(g, 0), classes, _scalar(g, 1)], "class_indices")
    column = g.op("Reshape", [indices, g.ints([-1] + [1] * (g.rank(scores) - 2))], "class_column")
    hits = g.op("Equal", [g.op("Unsqueeze", [labels, g.ints([1])], "labels"), column], "hits")
    return g.op("Cast", [hits], "onehot", like=scores, to=g.dtype(scores))


def _scalar(g: GradContext, value: int) -> str:
    return g.const_typed(np.asarray(value, dtype=np.int64))


RULES: dict[str, Rule] = {
    "ReduceSum": reduce_sum_or_mean,
    "ReduceMean": reduce_sum_or_mean,
    "SoftmaxCrossEntropyLoss": softmax_cross_entropy,
}
