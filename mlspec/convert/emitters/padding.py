"""ONNX padding attributes for convolution and pooling.

Same padding is resolved to explicit `pads` whenever the sizes allow (always with stride 1,
otherwise when the input's spatial dims are fixed): explicit pads are what every ORT kernel and
gradient handles alike, whereas `auto_pad` is left only for inference over inputs whose size is
unknown (tests/convert/test_graph_rewrite_gradients.py shows ORT's auto_pad gradient is wrong).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from mlspec._proto import layers_pb2
from mlspec.convert.emitters.context import EmitContext, where
from mlspec.spec.errors import MlspecError, ShapeError
from mlspec.spec.windows import Window


def padding_attributes(ctx: EmitContext, layer: layers_pb2.Layer, window: Window) -> dict[str, Any]:
    """`pads` resolved by the decoded window, or `auto_pad` when same padding meets unknown sizes."""
    dims = ctx.dims(layer.inputs[0])
    sizes = dims[2:] if dims is not None and len(dims) == window.rank + 2 else [None] * window.rank
    try:
        pads = window.pads(sizes)
    except ShapeError as error:
        raise error.at(where(layer)) from None
    if pads is None:
        _require_auto_pad_support(ctx, layer, window.strides, window.dilations)
        return {"auto_pad": "SAME_LOWER" if window.same_lower else "SAME_UPPER"}
    return {"pads": [begin for begin, _ in pads] + [end for _, end in pads]}


def _require_auto_pad_support(
    ctx: EmitContext, layer: layers_pb2.Layer, strides: Sequence[int], dilations: Sequence[int]
) -> None:
    """auto_pad is the only way to pad unknown sizes, and onnxruntime 1.19.2 fails it in two places."""
    reason = ""
    if any(d != 1 for d in dilations):
        reason = "onnxruntime has no dilated auto_pad"
    elif ctx.forms.refuse_auto_pad_gradient and ctx.needs_gradient(layer):
        reason = "onnxruntime-training computes wrong gradients through auto_pad"
    if reason:
        raise MlspecError(
            f"{where(layer)}: same padding with strides {list(strides)} and dilations {list(dilations)} "
            f"needs fixed spatial input sizes ({reason}). Fix: give the input fixed spatial dims, "
            "or use explicit padding"
        )
