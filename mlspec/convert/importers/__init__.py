"""Importers: existing ONNX and Core ML models as editable, updatable mlspec specs.

import_coreml needs the optional extra `mlspec[coreml]` (coremltools, for its protobuf
definitions), which it imports only when called, so ONNX import works without it.
"""

from __future__ import annotations

from mlspec.convert.importers.coreml_import import import_coreml
from mlspec.convert.importers.coreml_training import CoreMLImportError
from mlspec.convert.importers.onnx_checks import OnnxImportError
from mlspec.convert.importers.onnx_import import import_onnx

__all__ = ["CoreMLImportError", "OnnxImportError", "import_coreml", "import_onnx"]
