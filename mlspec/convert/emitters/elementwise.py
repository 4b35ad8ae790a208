"""Emitters for elementwise add and multiply over any number of broadcasting inputs.

Multiply is a chain of binary Mul (ONNX has no n-ary product). Add is one Sum, except on the
backprop path of a backend whose forms ask for a chain of binary Add (onnxruntime-training has
no CPU gradient for Sum).
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
    if len(layer.inputs) > 2 and not (ctx.forms.binary_add_chain and ctx.needs_gradient(layer)):
        ctx.node(layer, "Sum", list(layer.inputs), [layer.outputs[0]])
        return
    _chain(ctx, layer, "Add")


def emit_multiply(ctx: EmitContext, layer: layers_pb2.Layer) -> None:
    _chain(ctx, layer, "Mul")
