"""Mappers for normalisations: BatchNormalization, LayerNormalization, and LayerNorm as torch
exports it below opset 17 (ReduceMean, Sub, Pow, ReduceMean, Add eps, Sqrt, Div, Mul, Add).

Batch norm stays a separate layer, not folded into the convolution before it, so that it can be
trained. Weights become float32 whatever the initializer stored.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt
import onnx

from mlspec._proto import layers_pb2
from mlspec.convert.importers.onnx_budget import FOLD_BUDGET
from mlspec.convert.importers.onnx_context import Mapper, NodeContext
from mlspec.spec.weights import set_tensor

FloatArray = npt.NDArray[np.float32]


def _batch_norm(ctx: NodeContext) -> list[layers_pb2.Layer] | None:
    if ctx.attr("training_mode", 0) or ctx.output_used(1) or ctx.output_used(2):
        return None
    tensors = [ctx.weight(index) for index in range(1, 5)]
    if not ctx.is_activation(0) or any(t is None or t.ndim != 1 for t in tensors):
        return None
    gamma, beta, mean, variance = (t for t in tensors if t is not None)
    layer = ctx.layer()
    spec = layer.batch_norm
    spec.channels = int(gamma.shape[0])
    spec.epsilon = float(ctx.attr("epsilon", 1e-5))
    spec.momentum = float(ctx.attr("momentum", 0.9))
    for field, values in (
        ("gamma", gamma),
        ("beta", beta),
        ("running_mean", mean),
        ("running_variance", variance),
    ):
        set_tensor(getattr(spec, field), values, dtype=np.float32)
    return [layer]


def _layer_norm(ctx: NodeContext) -> list[layers_pb2.Layer] | None:
    scale = ctx.weight(1)
    offset = ctx.weight(2) if ctx.input(2) else None
    if not ctx.is_activation(0) or scale is None or (ctx.input(2) and offset is None):
        return None
    if ctx.output_used(1) or ctx.output_used(2):
        return None
    axis = int(ctx.attr("axis", -1))
    rank = ctx.rank(0)
    if axis >= 0 and rank is None:
        return None
    count = -axis if axis < 0 else (rank or 0) - axis
    normalized = _trailing(ctx, count) or (
        tuple(int(d) for d in scale.shape) if scale.ndim == count else None
    )
    if normalized is None:
        return None
    epsilon = float(ctx.attr("epsilon", 1e-5))
    return _layer_norm_layer(
        ctx, normalized, epsilon=epsilon, scale=scale, offset=offset, output=ctx.node.output[0]
    )


def _layer_norm_layer(
    ctx: NodeContext,
    normalized: tuple[int, ...],
    *,
    epsilon: float,
    scale: FloatArray | None,
    offset: FloatArray | None,
    output: str,
) -> list[layers_pb2.Layer] | None:
    if math.prod(normalized) > FOLD_BUDGET:  # declared dims, not weights: stay a frozen node
        return None
    try:
        gamma = np.broadcast_to(np.ones(1, np.float32) if scale is None else scale, normalized)
        beta = np.broadcast_to(np.zeros(1, np.float32) if offset is None else offset, normalized)
    except ValueError:
        return None
    layer = ctx.layer(outputs=[output])
    spec = layer.layer_norm
    spec.normalized_shape[:] = normalized
    spec.epsilon = epsilon
    set_tensor(spec.gamma, gamma, dtype=np.float32)
    set_tensor(spec.beta, beta, dtype=np.float32)
    return [layer]


def _trailing(ctx: NodeContext, count: int) -> tuple[int, ...] | None:
    """The input's last `count` dims when they are known and leave the batch alone."""
    dims = ctx.dims(0)
    if dims is None or len(dims) <= count:
        return None
    trailing = dims[len(dims) - count :]
    if not all(isinstance(d, int) for d in trailing):
        return None
    return tuple(int(d) for d in trailing if isinstance(d, int))


def _constant_operand(ctx: NodeContext, node: onnx.NodeProto, other: str) -> FloatArray | None:
    """The float constant among `node`'s two inputs, the other being `other`."""
    if len(node.input) != 2 or other not in node.input:
        return None
    value = ctx.graph.constants.get(node.input[1] if node.input[0] == other else node.input[0])
    return None if value is None or value.dtype.kind != "f" else value.astype(np.float32)


def decomposed_layer_norm(ctx: NodeContext) -> list[layers_pb2.Layer] | None:
    """Match the exported LayerNorm from its first ReduceMean; None when the nodes differ."""
    source = ctx.input(0)
    axes = ctx.ints(1) if ctx.input(1) else None
    rank = ctx.rank(0)
    if axes is None or rank is None or not ctx.is_activation(0) or not ctx.attr("keepdims", 1):
        return None
    count = len(axes)
    if sorted(a % rank for a in axes) != list(range(rank - count, rank)):
        return None
    normalized = _trailing(ctx, count)
    centred = ctx.follow(ctx.node.output[0], "Sub")
    if normalized is None or centred is None or list(centred.input) != [source, ctx.node.output[0]]:
        return None
    readers = ctx.session.consumers.get(centred.output[0], [])
    square = next((n for n in readers if n.op_type == "Pow"), None)
    divide = next((n for n in readers if n.op_type == "Div"), None)
    if len(readers) != 2 or square is None or divide is None or divide.input[0] != centred.output[0]:
        return None
    power = _constant_operand(ctx, square, centred.output[0])
    variance = ctx.follow(square.output[0], "ReduceMean")
    plus_eps = ctx.follow(variance.output[0], "Add") if variance is not None else None
    root = ctx.follow(plus_eps.output[0], "Sqrt") if plus_eps is not None else None
    if power is None or power.size != 1 or float(power.reshape(-1)[0]) != 2.0:
        return None
    if variance is None or plus_eps is None or root is None or divide.input[1] != root.output[0]:
        return None
    variance_axes = ctx.graph.constants.get(variance.input[1]) if len(variance.input) > 1 else None
    if variance_axes is None or sorted(int(a) % rank for a in variance_axes.reshape(-1)) != sorted(
        a % rank for a in axes
    ):
        return None
    epsilon = _constant_operand(ctx, plus_eps, variance.output[0])
    if epsilon is None or epsilon.size != 1:
        return None
    chain = [centred, square, variance, plus_eps, root, divide]
    scale_node = ctx.follow(divide.output[0], "Mul")
    scale = _constant_operand(ctx, scale_node, divide.output[0]) if scale_node is not None else None
    shift_node = ctx.follow(scale_node.output[0], "Add") if scale is not None and scale_node else None
    shift = _constant_operand(ctx, shift_node, scale_node.output[0]) if shift_node and scale_node else None
    if scale is not None and scale_node is not None:
        chain.append(scale_node)
        if shift is not None and shift_node is not None:
            chain.append(shift_node)
    layers = _layer_norm_layer(
        ctx,
        normalized,
        epsilon=float(epsilon.reshape(-1)[0]),
        scale=scale,
        offset=shift,
        output=chain[-1].output[0],
    )
    if layers is not None:
        for node in chain:
            ctx.absorb(node)
    return layers


MAPPERS: dict[str, Mapper] = {
    "BatchNormalization": _batch_norm,
    "LayerNormalization": _layer_norm,
}
