"""Emitters for layers that only move values: flatten, reshape, transpose, concat."""

from __future__ import annotations

import numpy as np

from mlspec._proto import layers_pb2
from mlspec.convert.emitters.context import EmitContext, Emitter, where
from mlspec.spec.errors import MlspecError


def emit_flatten(ctx: EmitContext, layer: layers_pb2.Layer) -> None:
    """ONNX Flatten always yields 2-D, which is the spec's meaning only for axis 1; deeper axes reshape."""
    axis = int(layer.flatten.axis) or 1
    if axis < 0:
        dims = ctx.dims(layer.inputs[0])
        if dims is None:
            raise MlspecError(
                f"{where(layer)}.flatten.axis: {axis} counts from the end of an input of unknown rank"
            )
        axis += len(dims)
    if axis == 1:
        ctx.node(layer, "Flatten", [layer.inputs[0]], [layer.outputs[0]], axis=1)
        return
    # Reshape copies a 0 entry from the input, so [0] * axis keeps the leading axes.
    shape = ctx.constant(layer, "shape", [0] * axis + [-1], dtype=np.int64)
    ctx.node(layer, "Reshape", [layer.inputs[0], shape], [layer.outputs[0]])


def emit_reshape(ctx: EmitContext, layer: layers_pb2.Layer) -> None:
    target = [int(d) for d in layer.reshape.target_shape]
    if any(d == 0 or d < -1 for d in target) or target.count(-1) > 1:
        raise MlspecError(
            f"{where(layer)}.reshape.target_shape: {target} is not a shape; "
            "use positive sizes and at most one -1"
        )
    # The leading 0 keeps the batch dimension (ONNX Reshape copies 0 entries from the input).
    shape = ctx.constant(layer, "shape", [0, *target], dtype=np.int64)
    ctx.node(layer, "Reshape", [layer.inputs[0], shape], [layer.outputs[0]])


def emit_transpose(ctx: EmitContext, layer: layers_pb2.Layer) -> None:
    ctx.node(
        layer, "Transpose", [layer.inputs[0]], [layer.outputs[0]], perm=[int(p) for p in layer.transpose.perm]
    )


def emit_concat(ctx: EmitContext, layer: layers_pb2.Layer) -> None:
    ctx.node(layer, "Concat", list(layer.inputs), [layer.outputs[0]], axis=int(layer.concat.axis) or 1)


EMITTERS: dict[str, Emitter] = {
    "flatten": emit_flatten,
    "reshape": emit_reshape,
    "transpose": emit_transpose,
    "concat": emit_concat,
}
