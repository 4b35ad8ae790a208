"""Emitters for elementwise add and multiply over any number of broadcasting inputs.

A chain of binary Add/Mul rather than ONNX Sum: Add and Mul are on onnxruntime-training's list
of CPU gradients, so the same graph serves inference and training.
"""

from __future__ import annotations

from mlspec._proto import layers_pb2
from mlspec.convert.emitters.context import EmitContext


def _chain(ctx: EmitContext, layer: layers_pb2.Layer, op_type: str) -> None:
    inputs = list(layer.inputs)
    if len(inputs) == 2:
        ctx.node(layer, op_type, inputs, [layer.outputs[0]])
        return
    running = inputs[0]
    for index, operand in enumerate(inputs[1:], start=1):
        step = f"{op_type.lower()}_{index}"
        result = layer.outputs[0] if index == len(inputs) - 1 else ctx.tensor(layer, step)
        ctx.node(layer, op_type, [running, operand], [result], step=step)
        running = result


def emit_add(ctx: EmitContext, layer: layers_pb2.Layer) -> None:
    _chain(ctx, layer, "Add")


def emit_multiply(ctx: EmitContext, layer: layers_pb2.Layer) -> None:
    _chain(ctx, layer, "Mul")
