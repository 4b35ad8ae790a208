"""Emitter for generic ONNX nodes kept from imported models, exactly as they were stored."""

from __future__ import annotations

import onnx

from mlspec._proto import layers_pb2
from mlspec.convert.emitters.context import EmitContext, Emitter, where
from mlspec.spec.errors import MlspecError
from mlspec.spec.weights import to_numpy


def emit_onnx_node(ctx: EmitContext, layer: layers_pb2.Layer) -> None:
    """Constants become initializers "{layer}.constants.{name}" in their stored dtype.

    The node was exported against those exact types (a float16 or double Cast target, say), so
    converting them would make onnxruntime reject the node.
    """
    params = layer.onnx_node
    constants = {}
    for constant in params.constants:
        values = to_numpy(constant.tensor, f"{where(layer)}.constants[{constant.name!r}]")
        constants[constant.name] = ctx.add_initializer(f"{layer.name}.constants.{constant.name}", values)
    inputs: list[str] = []
    for index, name in enumerate(params.node_inputs):
        if not name or name in layer.inputs:
            inputs.append(name)
        elif name in constants:
            inputs.append(constants[name])
        else:
            raise MlspecError(
                f"{where(layer)}.onnx_node.node_inputs[{index}]: {name!r} is neither a layer input "
                "nor a constant of this node"
            )
    node = ctx.node(layer, params.op_type, inputs, list(layer.outputs), domain=params.domain)
    node.attribute.extend(onnx.AttributeProto.FromString(raw) for raw in params.attributes)


EMITTERS: dict[str, Emitter] = {"onnx_node": emit_onnx_node}
