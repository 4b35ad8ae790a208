"""The op registry: ONNX op type (default domain) -> mapper producing typed layers.

An op missing here, or a mapper that returns None, leaves the node as a frozen onnx_node layer;
see onnx_generic.py.
"""

from __future__ import annotations

from mlspec.convert.importers import (
    onnx_ops_activation,
    onnx_ops_dense,
    onnx_ops_norm,
    onnx_ops_shape,
    onnx_ops_window,
)
from mlspec.convert.importers.onnx_context import Mapper

MAPPERS: dict[str, Mapper] = {
    **onnx_ops_dense.MAPPERS,
    **onnx_ops_norm.MAPPERS,
    **onnx_ops_window.MAPPERS,
    **onnx_ops_activation.MAPPERS,
    **onnx_ops_shape.MAPPERS,
}
