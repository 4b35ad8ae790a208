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
from mlspec.spec.errors import MlspecError


def padding_attributes(
    ctx: EmitContext,
    layer: layers_pb2.Layer,
    padding: layers_pb2.Padding,
    *,
    kernel: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
) -> dict[str, Any]:
    rank = len(kernel)
    kind = padding.WhichOneof("kind")
    if kind in (None, "valid"):
        return {"pads": [0] * (2 * rank)}
    if kind == "explicit":
        pads = [int(p) for p in padding.explicit.pads]
        if len(pads) != 2 * rank:
            raise MlspecError(
                f"{where(layer)}.padding.explicit.pads: {len(pads)} values, expected {2 * rank} "
                "(the begin paddings of every spatial axis, then the end paddings)"
            )
        return {"pads": pads}
    if all(s == 1 for s in strides):
        totals = [(k - 1) * d for k, d in zip(kernel, dilations, strict=True)]
    else:
        dims = ctx.dims(layer.inputs[0])
        sizes = dims[2:] if dims is not None and len(dims) == rank + 2 else None
        if sizes is None or not all(isinstance(n, int) for n in sizes):
            _require_auto_pad_support(ctx, layer, strides, dilations)
            return {"auto_pad": "SAME_LOWER" if padding.same.lower else "SAME_UPPER"}
        totals = [
            max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
            for n, k, s, d in zip(sizes, kernel, strides, dilations, strict=True)
            if isinstance(n, int)
        ]
    halves = [total // 2 for total in totals]
    rest = [total - half for total, half in zip(totals, halves, strict=True)]
    return {"pads": rest + halves if padding.same.lower else halves + rest}


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
