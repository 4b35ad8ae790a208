"""Mappers for ops that move values around: Softmax (also spelled out from ReduceMax), Flatten,
Reshape, Transpose, Concat, Dropout.

mlspec's kinds all keep the leading batch axis, while the ONNX ops may touch it. Each mapper
accepts only the forms that leave axis 0 alone (Reshape's target must start with the batch: a
0, a folded Shape entry when the input's axis 0 is the batch too, or a -1 / fixed size that
provably equals it); the rest stay frozen onnx_node layers. A dynamo attention block reshapes
[batch * heads, ...] back to [batch, heads, ...] with the batch from Shape: a batch-keeping
reshape there would keep batch * heads, so that node stays frozen and computes its target at
run time.
"""

from __future__ import annotations

import math

import onnx

from mlspec._proto import layers_pb2
from mlspec.convert.importers.onnx_context import Mapper, NodeContext
from mlspec.convert.importers.onnx_graph import Dim
from mlspec.convert.importers.onnx_shape_values import BATCH_SENTINEL, LEAD_SENTINEL


def _softmax(ctx: NodeContext) -> list[layers_pb2.Layer] | None:
    rank = ctx.rank(0)
    axis = int(ctx.attr("axis", -1))
    resolved = axis + rank if axis < 0 and rank is not None else axis
    if not ctx.is_activation(0) or resolved == 0:
        return None
    layer = ctx.layer()
    last = axis == -1 or (rank is not None and resolved == rank - 1)
    layer.softmax.axis = 0 if last else resolved
    return [layer]


def _reduced_axes(ctx: NodeContext, node: onnx.NodeProto, rank: int) -> list[int] | None:
    """A Reduce* node's axes, from its input (opset 13 ReduceSum, 18 others) or attribute,
    resolved against `rank`; None unless it keeps the reduced dims."""
    if not next((a.i for a in node.attribute if a.name == "keepdims"), 1):
        return None
    value = ctx.graph.constants.get(node.input[1]) if len(node.input) > 1 and node.input[1] else None
    listed = (
        value.reshape(-1).tolist()
        if value is not None
        else next((list(a.ints) for a in node.attribute if a.name == "axes"), None)
    )
    return sorted(int(axis) % rank for axis in listed) if listed else None


def _spelled_softmax(ctx: NodeContext) -> list[layers_pb2.Layer] | None:
    """Exp(x - ReduceMax(x)) / ReduceSum(Exp(...)) over one axis, as hand-written softmaxes and
    some exporters spell it: one softmax layer, matched from its ReduceMax; None otherwise."""
    rank, x = ctx.rank(0), ctx.input(0)
    axes = _reduced_axes(ctx, ctx.node, rank) if rank is not None else None
    if rank is None or axes is None or len(axes) != 1 or axes[0] == 0 or not ctx.is_activation(0):
        return None
    shifted = ctx.follow(ctx.node.output[0], "Sub")
    exp = ctx.follow(shifted.output[0], "Exp") if shifted is not None else None
    if shifted is None or exp is None or list(shifted.input) != [x, ctx.node.output[0]]:
        return None
    readers = ctx.session.consumers.get(exp.output[0], [])
    total = next((n for n in readers if n.op_type == "ReduceSum"), None)
    divide = next((n for n in readers if n.op_type == "Div"), None)
    if len(readers) != 2 or total is None or divide is None or exp.output[0] in ctx.graph.output_names():
        return None
    if _reduced_axes(ctx, total, rank) != axes:
        return None
    if (
        list(divide.input) != [exp.output[0], total.output[0]]
        or ctx.sole_consumer(total.output[0]) is not divide
    ):
        return None
    for node in (shifted, exp, total, divide):
        ctx.absorb(node)
    layer = ctx.layer(outputs=[divide.output[0]])
    layer.softmax.axis = 0 if axes[0] == rank - 1 else axes[0]
    return [layer]


def _flatten(ctx: NodeContext) -> list[layers_pb2.Layer] | None:
    rank = ctx.rank(0)
    axis = int(ctx.attr("axis", 1))
    if axis < 0:
        if rank is None:
            return None
        axis += rank
    if not ctx.is_activation(0) or axis == 0:
        return None
    layer = ctx.layer()
    layer.flatten.axis = axis
    return [layer]


def _per_example_target(
    target: list[int], dims: tuple[Dim, ...] | None, allow_zero: bool
) -> list[int] | None:
    """The target without its batch entry, with ONNX's 0 ("copy this dim") resolved; or None."""
    if not target:
        return None
    first, rest = target[0], list(target[1:])
    if BATCH_SENTINEL in rest or LEAD_SENTINEL in rest or (allow_zero and 0 in target):
        return None
    for index, size in enumerate(rest):
        if size == 0:
            known = dims[index + 1] if dims is not None and index + 1 < len(dims) else None
            if not isinstance(known, int):
                return None
            rest[index] = known
    if first in (BATCH_SENTINEL, 0):
        return rest
    if dims is None or any(not isinstance(d, int) for d in dims[1:]):
        return None
    per_example = math.prod(int(d) for d in dims[1:] if isinstance(d, int))
    known = math.prod(size for size in rest if size != -1)
    # A -1 or fixed size first is the batch only when the rest accounts for one whole example.
    if first == -1 and -1 not in rest and known == per_example:
        return rest
    fits = per_example % known == 0 if -1 in rest else known == per_example
    if first == dims[0] and fits:
        return rest
    return None


def _reshape(ctx: NodeContext) -> list[layers_pb2.Layer] | None:
    target = ctx.ints(1)
    if target is None or not ctx.is_activation(0):
        return None
    dims = ctx.dims(0)
    if target and target[0] == BATCH_SENTINEL and not (dims and ctx.graph.is_batch(dims[0])):
        return None
    rest = _per_example_target(target, ctx.dims(0), bool(ctx.attr("allowzero", 0)))
    if rest is None:
        return None
    layer = ctx.layer()
    layer.reshape.target_shape[:] = rest
    return [layer]


def _squeeze_like(ctx: NodeContext) -> list[layers_pb2.Layer] | None:
    """Squeeze/Unsqueeze that leave the batch alone are reshapes to the inferred output shape
    (tf2onnx squeezes [N, C, 1, 1] to [N, C] after global pooling)."""
    axes = ctx.ints(1) if ctx.input(1) else None
    out_dims = ctx.graph.dims(ctx.node.output[0])
    rank = len(out_dims) if out_dims is not None else None
    if axes is None or rank is None or not ctx.is_activation(0) or out_dims is None:
        return None
    touched_rank = rank if ctx.node.op_type == "Unsqueeze" else (ctx.rank(0) or 0)
    if any(axis % max(touched_rank, 1) == 0 for axis in axes):
        return None
    target = [d for d in out_dims[1:] if isinstance(d, int)]
    if len(target) != rank - 1:
        return None
    layer = ctx.layer()
    layer.reshape.target_shape[:] = target
    return [layer]


def _transpose(ctx: NodeContext) -> list[layers_pb2.Layer] | None:
    rank = ctx.rank(0)
    perm = ctx.attr("perm", None)
    if perm is None:
        if rank is None:
            return None
        perm = list(reversed(range(rank)))
    perm = [int(p) for p in perm]
    if not ctx.is_activation(0) or not perm or perm[0] != 0:
        return None
    layer = ctx.layer()
    layer.transpose.perm[:] = perm
    return [layer]


def _concat(ctx: NodeContext) -> list[layers_pb2.Layer] | None:
    inputs = list(ctx.node.input)
    rank = ctx.rank(0)
    axis = int(ctx.attr("axis", 1))
    resolved = axis + rank if axis < 0 and rank is not None else axis
    if resolved == 0 or not all(ctx.is_activation(i) for i in range(len(inputs))):
        return None
    layer = ctx.layer(inputs=inputs)
    layer.concat.axis = axis
    return [layer]


def _dropout(ctx: NodeContext) -> list[layers_pb2.Layer] | None:
    ratio = ctx.scalar(1) if ctx.input(1) else 0.5
    if ratio is None or ctx.output_used(1) or not ctx.is_activation(0):
        return None
    layer = ctx.layer()
    layer.dropout.rate = ratio
    return [layer]


MAPPERS: dict[str, Mapper] = {
    "Softmax": _softmax,
    "ReduceMax": _spelled_softmax,
    "Flatten": _flatten,
    "Reshape": _reshape,
    "Transpose": _transpose,
    "Squeeze": _squeeze_like,
    "Unsqueeze": _squeeze_like,
    "Concat": _concat,
    "Dropout": _dropout,
}
