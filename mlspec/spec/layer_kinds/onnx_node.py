"""The generic kind: one imported ONNX node, its constants and its declared output types.

Its constants are checked by mlspec.spec.validate.onnx_nodes, not through `weights`: they are
named by the node, not by fields of the kind's message.
"""

from __future__ import annotations

from mlspec._proto import layers_pb2
from mlspec.spec.errors import ShapeError
from mlspec.spec.layer_kinds.base import KindInfo
from mlspec.spec.tensor_info import UNKNOWN, TensorInfo, tensor_type_info


def _check(layer: layers_pb2.Layer) -> None:
    declared = len(layer.onnx_node.output_types)
    if declared and declared != len(layer.outputs):
        raise ShapeError(
            f"{declared} output_types for {len(layer.outputs)} outputs",
            "declare one output type per output, or none",
            ".onnx_node.output_types",
        )


def _shape(layer: layers_pb2.Layer, inputs: list[TensorInfo]) -> list[TensorInfo]:
    """Declared output types let checks continue past an imported node; otherwise outputs are unknown."""
    declared = layer.onnx_node.output_types
    if not declared:
        return [UNKNOWN] * len(layer.outputs)
    return [tensor_type_info(t) for t in declared]


# Imported nodes hold no trainable tensors; whether gradients pass depends on the op,
# see mlspec.spec.kinds.passes_gradient.
ONNX_NODE = KindInfo(
    name="onnx_node", check=_check, shape=_shape, passes_gradient=False, min_inputs=0, max_inputs=None
)
