"""Frozen onnx_node layers: ONNX nodes kept as they are when no typed kind fits.

The node is stored whole (op type, domain, attributes as serialized AttributeProto) so that the
exporter writes back exactly what came in; the graph was upgraded to opset 21 beforehand, the
opset the exporter emits. Constant inputs travel with the layer as named constants. Two kinds of
constant cannot: values that still hold the batch sentinel (a Shape result feeding something
other than a Reshape), whose producing nodes are then emitted too so the value is computed at
run time, and dtypes a spec tensor cannot hold (bool, uint8, ...), which get a Constant layer.
A frozen Reshape's target with one batch entry is the exception: -1 there means the same size
(the rest of the target fixes it), so the target stays a constant and the Shape/Slice/Concat
chain that computed it is not emitted.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import numpy_helper

from mlspec._proto import layers_pb2, tensor_pb2
from mlspec.convert.importers.onnx_context import MappingSession
from mlspec.convert.importers.onnx_shape_values import has_sentinel, inferable_target
from mlspec.spec.weights import NUMPY_DTYPES, make_tensor

_STORABLE = {dtype.newbyteorder("=") for dtype in NUMPY_DTYPES.values()}
_SPEC_TYPES: dict[int, tensor_pb2.DataType] = {
    onnx.TensorProto.FLOAT: tensor_pb2.FLOAT32,
    onnx.TensorProto.FLOAT16: tensor_pb2.FLOAT16,
    onnx.TensorProto.DOUBLE: tensor_pb2.DOUBLE,
    onnx.TensorProto.INT64: tensor_pb2.INT64,
    onnx.TensorProto.INT32: tensor_pb2.INT32,
    onnx.TensorProto.INT8: tensor_pb2.INT8,
    onnx.TensorProto.UINT8: tensor_pb2.UINT8,
    onnx.TensorProto.BOOL: tensor_pb2.BOOL,
}


def spec_dtype_of(onnx_type: int) -> tensor_pb2.DataType | None:
    """The spec DataType for an ONNX element type, or None when the spec has no such dtype."""
    return _SPEC_TYPES.get(onnx_type)


def tensor_type(session: MappingSession, name: str) -> tensor_pb2.TensorType | None:
    """The inferred type of a tensor as a spec TensorType, None when unknown or not expressible."""
    dtype = spec_dtype_of(session.graph.elem_type(name))
    dims = session.graph.dims(name)
    if dtype is None or dims is None:
        return None
    result = tensor_pb2.TensorType(dtype=dtype)
    for axis, dim in enumerate(dims):
        if isinstance(dim, int):
            result.shape.add(size=dim)
        else:
            result.shape.add(symbol=dim or ("batch" if axis == 0 else f"{name}_dim{axis}"))
    return result


class GenericMapper:
    """Builds onnx_node layers, emitting run-time producers of shape values at most once."""

    def __init__(self, session: MappingSession) -> None:
        self.session = session
        self.emitted: set[str] = set()

    def map(self, node: onnx.NodeProto) -> list[layers_pb2.Layer]:
        name = self.session.names.take(node.name, node.op_type.lower() or "node")
        layer = layers_pb2.Layer(name=name)
        spec = layer.onnx_node
        spec.op_type = node.op_type
        spec.domain = node.domain
        spec.attributes.extend(attr.SerializeToString() for attr in node.attribute)
        before: list[layers_pb2.Layer] = []
        for index, source in enumerate(node.input):
            spec.node_inputs.append(source)
            value = self.session.graph.constants.get(source) if source else None
            if value is not None and node.op_type == "Reshape" and index == 1 and has_sentinel(value):
                static = inferable_target(value)
                value = value if static is None else static
            if not source or (value is None and source in layer.inputs):
                continue
            if value is None:
                layer.inputs.append(source)
            elif has_sentinel(value) or value.dtype.newbyteorder("=") not in _STORABLE:
                before.extend(self._run_time_value(source, value))
                if source not in layer.inputs:
                    layer.inputs.append(source)
            elif all(constant.name != source for constant in spec.constants):
                spec.constants.add(name=source, tensor=make_tensor(value))
        layer.outputs.extend(self._output_names(node, name))
        types = [tensor_type(self.session, output) for output in layer.outputs]
        if all(t is not None for t in types):
            spec.output_types.extend(t for t in types if t is not None)
        self.emitted.update(layer.outputs)
        return [*before, layer]

    def _run_time_value(self, name: str, value: np.ndarray) -> list[layers_pb2.Layer]:
        if name in self.emitted:
            return []
        producer = self.session.graph.folded_by.get(name)
        if has_sentinel(value) and producer is not None:
            return self.map(producer)
        constant = onnx.helper.make_node("Constant", [], [name], name=f"{name}_constant")
        constant.attribute.append(onnx.helper.make_attribute("value", numpy_helper.from_array(value)))
        return self.map(constant)

    @staticmethod
    def _output_names(node: onnx.NodeProto, layer_name: str) -> list[str]:
        """Outputs in ONNX order; a skipped optional output in the middle gets a placeholder name."""
        names = list(node.output)
        while names and not names[-1]:
            names.pop()
        return [name or f"{layer_name}/unused_output_{index}" for index, name in enumerate(names)]
