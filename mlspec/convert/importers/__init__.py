"""Importers: existing ONNX and Core ML models as editable, updatable mlspec specs."""

from __future__ import annotations

from mlspec.convert.importers.onnx_graph import OnnxImportError
from mlspec.convert.importers.onnx_import import import_onnx

__all__ = ["OnnxImportError", "import_onnx"]
