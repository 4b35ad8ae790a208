"""Emitters for the elementwise kinds: add and multiply over any number of broadcasting inputs,
and dropout.

Multiply is a chain of binary Mul (ONNX has no n-ary product). Add is one Sum, except on the
backprop path of a backend whose forms ask for a chain of binary Add (onnxruntime-training has
no CPU gradient for Sum).

Dropout is Identity for inference and a switchable Dropout for training. In training
onnxruntime needs the mask output declared and an explicit training_mode input
(docs/ORT_FINDINGS.md). The training_mode input is a named boolean constant listed in
GraphBuild.dropout_mode_inputs, so the eval model can turn dropout off without another graph.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlspec._proto import layers_pb2
from mlspec.convert.emitters.context import EmitContext, Emitter


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


def emit_dropout(ctx: EmitContext, layer: layers_pb2.Layer) -> None:
    if not ctx.training:
        ctx.node(layer, "Identity", [layer.inputs[0]], [layer.outputs[0]])
        return
    ratio = ctx.constant(layer, "ratio", layer.dropout.rate)
    mode = ctx.constant(layer, "training_mode", True, dtype=np.bool_)
    outputs = [layer.outputs[0], ctx.tensor(layer, "mask")]
    ctx.node(layer, "Dropout", [layer.inputs[0], ratio, mode], outputs, **_seed(ctx, layer))
    ctx.dropout_mode_inputs.append(mode)


def _seed(ctx: EmitContext, layer: layers_pb2.Layer) -> dict[str, Any]:
    """The spec's seed makes runs reproducible; each layer's offset keeps equal-shaped masks apart."""
    update = ctx.model.update_parameters
    if not update.HasField("seed"):
        return {}
    position = next(i for i, candidate in enumerate(ctx.model.network.layers) if candidate.name == layer.name)
    return {"seed": int(update.seed.default_value) + position}


EMITTERS: dict[str, Emitter] = {"add": emit_add, "multiply": emit_multiply, "dropout": emit_dropout}
