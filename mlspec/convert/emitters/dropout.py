"""Emitter for dropout: Identity for inference, a switchable Dropout for training.

In training onnxruntime needs the mask output declared and an explicit training_mode input
(docs/ORT_FINDINGS.md). The training_mode input is a named boolean constant listed in
GraphBuild.dropout_mode_inputs, so the eval model can turn dropout off without another graph.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mlspec._proto import layers_pb2
from mlspec.convert.emitters.context import EmitContext


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
