"""The spec layer spells ONNX's element types as numbers (it does not import onnx); those numbers
must be onnx.TensorProto's, or convert's graphs and validate's inference would mistype tensors."""

from __future__ import annotations

import onnx

from mlspec._proto import tensor_pb2
from mlspec.spec.tensor_info import DTYPE_NAMES, ONNX_ELEMENT_TYPES, STRING

ONNX_NAMES = {
    tensor_pb2.FLOAT32: "FLOAT",
    tensor_pb2.UINT8: "UINT8",
    tensor_pb2.INT8: "INT8",
    tensor_pb2.INT32: "INT32",
    tensor_pb2.INT64: "INT64",
    STRING: "STRING",
    tensor_pb2.BOOL: "BOOL",
    tensor_pb2.FLOAT16: "FLOAT16",
    tensor_pb2.DOUBLE: "DOUBLE",
}


def test_each_spec_dtype_maps_to_onnx_tensor_proto_element_type_of_its_name() -> None:
    assert set(ONNX_ELEMENT_TYPES) == set(DTYPE_NAMES)
    for code, element in ONNX_ELEMENT_TYPES.items():
        assert element == onnx.TensorProto.DataType.Value(ONNX_NAMES[code]), DTYPE_NAMES[code]
