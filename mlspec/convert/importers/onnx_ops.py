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
    # A ReduceMean starts a spelled-out layer norm or is a global average pool.
    "ReduceMean": lambda ctx: (
        onnx_ops_norm.decomposed_layer_norm(ctx) or onnx_ops_window.mean_as_global_pool(ctx)
    ),
}
