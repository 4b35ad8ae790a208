"""The one registry from layer kind to ONNX emitter; each family lives in its own module."""

from __future__ import annotations

from collections.abc import Callable

from mlspec._proto import layers_pb2
from mlspec.convert.emitters import (
    activation,
    conv,
    dense,
    dropout,
    elementwise,
    embedding,
    norm,
    onnx_node,
    pooling,
    shape_ops,
)
from mlspec.convert.emitters.context import EmitContext, where
from mlspec.spec.errors import MlspecError

Emitter = Callable[[EmitContext, layers_pb2.Layer], None]

EMITTERS: dict[str, Emitter] = {
    "inner_product": dense.emit_inner_product,
    "convolution": conv.emit_convolution,
    "batch_norm": norm.emit_batch_norm,
    "pooling": pooling.emit_pooling,
    "activation": activation.emit_activation,
    "softmax": activation.emit_softmax,
    "flatten": shape_ops.emit_flatten,
    "reshape": shape_ops.emit_reshape,
    "transpose": shape_ops.emit_transpose,
    "concat": shape_ops.emit_concat,
    "add": elementwise.emit_add,
    "multiply": elementwise.emit_multiply,
    "dropout": dropout.emit_dropout,
    "layer_norm": norm.emit_layer_norm,
    "embedding": embedding.emit_embedding,
    "onnx_node": onnx_node.emit_onnx_node,
}


def emitter_for(layer: layers_pb2.Layer) -> Emitter:
    kind = layer.WhichOneof("kind")
    if kind is None or kind not in EMITTERS:
        raise MlspecError(
            f"{where(layer)}: kind {kind or '(none set)'} cannot be converted to ONNX; "
            f"supported kinds: {', '.join(EMITTERS)}"
        )
    return EMITTERS[kind]


__all__ = ["EMITTERS", "EmitContext", "Emitter", "emitter_for"]
