"""Exporters: specs written in other tools' formats (Core ML's updatable .mlmodel).

export_coreml needs the optional extra `mlspec[coreml]` (coremltools, for its protobuf
definitions), which it imports only when called.
"""

from __future__ import annotations

from mlspec.convert.exporters.coreml_export import (
    CoreMLExport,
    CoreMLExportError,
    export_coreml,
    write_coreml,
)

__all__ = ["CoreMLExport", "CoreMLExportError", "export_coreml", "write_coreml"]
