"""Emitter for embedding lookups: rows of the weight table gathered by integer index."""

from __future__ import annotations

from mlspec._proto import layers_pb2
from mlspec.convert.emitters.context import EmitContext


def emit_embedding(ctx: EmitContext, layer: layers_pb2.Layer) -> None:
    ctx.node(layer, "Gather", [ctx.weight(layer, "weights"), layer.inputs[0]], [layer.outputs[0]], axis=0)
