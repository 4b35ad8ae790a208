"""The ONNX operator sets mlspec's models import, and the bound on window attributes.

One declaration read by validation (spec.validate.onnx_nodes), conversion (convert.graph) and
ONNX import (convert.importers.onnx_checks), so that a generic node validate accepts converts,
and an imported node's windows pass the same bound validate applies to it.
"""

from __future__ import annotations

# The default domain's opset of every ONNX model mlspec writes.
OPSET = 21
# Opsets of the other domains a generic onnx_node may use (ONNX Runtime 1.19 supports these).
DOMAIN_OPSETS = {"ai.onnx.ml": 3, "com.microsoft": 1}
# Largest stride, dilation, kernel size or pad of a window operator (Conv, MaxPool, ...): ORT's
# size arithmetic overflows far past it (a dilation of 2**62), and no real model comes near it.
WINDOW_MAX = 1 << 16
