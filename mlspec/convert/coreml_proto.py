"""coremltools' protobuf definitions, loaded quietly, for Core ML import and export.

Importing coremltools on Linux logs a page of warnings (its macOS-only native proxies cannot
load; its scikit-learn bridge rejects newer scikit-learn). mlspec reads and writes only the
protobuf messages, so those warnings say nothing about what mlspec does: they are held back
while the package starts, and coremltools' own logging is left as it was afterwards.
"""

from __future__ import annotations

import logging
from typing import Any

from mlspec.spec.errors import MlspecError


def coreml_model_proto(error: type[MlspecError], action: str) -> Any:
    """coremltools.proto.Model_pb2; `error` (naming `action`) if coremltools is not installed."""
    logger = logging.getLogger("coremltools")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        from coremltools.proto import Model_pb2  # noqa: PLC0415 (optional dependency)
    except ImportError as exc:
        needs = "needs coremltools' protobuf definitions; install mlspec[coreml]"
        raise error(f"Core ML {action} {needs}") from exc
    finally:
        logger.setLevel(level)
    return Model_pb2
