"""The one registry from layer kind to ONNX emitter, merged from the family modules' own tables.

A family module (dense, conv, norm, ...) lists its emitters in `EMITTERS` beside their code, so a
kind added to a family is registered in the file that emits it. The family names match the
reference's and the spec catalogue's (mlspec.spec.layer_kinds).
"""

from __future__ import annotations

from mlspec._proto import layers_pb2
from mlspec.convert.emitters import (
    activation,
    conv,
    dense,
    elementwise,
    norm,
    onnx_node,
    pooling,
    shape_ops,
)
from mlspec.convert.emitters.context import EmitContext, Emitter, where
from mlspec.spec.errors import MlspecError
from mlspec.spec.layer_kinds import by_kind

EMITTERS: dict[str, Emitter] = by_kind(
    "mlspec.convert.emitters",
    activation.EMITTERS,
    conv.EMITTERS,
    dense.EMITTERS,
    elementwise.EMITTERS,
    norm.EMITTERS,
    onnx_node.EMITTERS,
    pooling.EMITTERS,
    shape_ops.EMITTERS,
)


def emitter_for(layer: layers_pb2.Layer) -> Emitter:
    kind = layer.WhichOneof("kind")
    if kind is None or kind not in EMITTERS:
        raise MlspecError(
            f"{where(layer)}: kind {kind or '(none set)'} cannot be converted to ONNX; "
            f"supported kinds: {', '.join(EMITTERS)}"
        )
    return EMITTERS[kind]


__all__ = ["EMITTERS", "EmitContext", "Emitter", "emitter_for"]
