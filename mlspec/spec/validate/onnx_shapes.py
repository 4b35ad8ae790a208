"""Output types of a generic ONNX node that declares none, from onnx's inference for its operator.

A node kept from an imported model may carry no output_types; mlspec's own rules then know
nothing of the shapes after it, yet convert hands the whole graph to onnx's checker, whose shape
inference does know them. A dense layer after such a MaxPool validated and then failed convert
(spec fuzz seed 2026, input 52522). So validate asks onnx for the node's outputs, the same
inference convert will run, and goes on checking the layers after it with the answer.

onnx's inference is native code: it only sees a node that check_onnx_node has proved well-formed
(attributes parsed, of the schema's types, windows in range, accepted by onnx's node checker),
inputs whose sizes are within the element budget, and constant values only for small integer
constants (the shape-like inputs it reads), rebuilt from bytes checked against their dims.
"""

from __future__ import annotations

from typing import Any

from mlspec._proto import layers_pb2, tensor_pb2
from mlspec.spec.errors import MlspecError, ShapeError
from mlspec.spec.onnx_opsets import OPSET
from mlspec.spec.tensor_info import ONNX_ELEMENT_TYPES, UNKNOWN, UNKNOWN_DTYPE, Dim, TensorInfo
from mlspec.spec.validate.onnx_nodes import check_onnx_node
from mlspec.spec.weights import to_numpy

_SPEC_DTYPE = {element: code for code, element in ONNX_ELEMENT_TYPES.items()}
# Past this many elements a dim set is a mistake other rules report; inference does not see it.
_MAX_ELEMENTS = 1 << 40
# Integer constants up to this size are passed as values (shapes, axes, pads); the rest as types.
_MAX_VALUES = 1 << 16


def undeclared_outputs(layer: layers_pb2.Layer, inputs: list[TensorInfo]) -> list[TensorInfo] | None:
    """The node's output infos by onnx's inference, or None when onnx cannot be asked (unknown or
    oversized inputs, a node validate will refuse anyway, no schema). Raises ShapeError when
    onnx's inference refuses the node, so the problem names this layer."""
    node = layer.onnx_node
    if not node.op_type or node.output_types or node.domain not in ("", "ai.onnx"):
        return None
    if check_onnx_node(layer, ""):
        return None
    import onnx  # noqa: PLC0415 (check_onnx_node imported it already)

    by_name = dict(zip(layer.inputs, inputs, strict=False))
    constants = {constant.name: constant.tensor for constant in reversed(node.constants)}
    types: dict[str, Any] = {}
    data: dict[str, Any] = {}
    names: list[str] = []
    for index, source in enumerate(node.node_inputs):
        name = f"input_{index}" if source else ""
        names.append(name)
        if not source:
            continue
        if source in by_name:
            info = by_name[source]
            if _oversized(info.dims) or info.dtype not in ONNX_ELEMENT_TYPES:
                return None
            types[name] = _type_proto(onnx, info)
        elif source in constants:
            tensor = constants[source]
            if _oversized(tuple(tensor.shape)) or tensor.dtype not in ONNX_ELEMENT_TYPES:
                return None
            try:
                values = to_numpy(tensor)
            except MlspecError:  # bytes not matching the dims, or stored outside: other rules say so
                return None
            types[name] = _type_proto(onnx, TensorInfo(tensor.dtype, values.shape))
            if tensor.dtype in (tensor_pb2.INT64, tensor_pb2.INT32) and values.size <= _MAX_VALUES:
                data[name] = onnx.numpy_helper.from_array(values, name)
        else:  # neither an input nor a constant: the onnx_node rules report it
            return None
    while names and not names[-1]:
        names.pop()
    proto = onnx.NodeProto(op_type=node.op_type, domain=node.domain)
    proto.input.extend(names)
    proto.output.extend(f"output_{i}" for i in range(len(layer.outputs)))
    proto.attribute.extend(onnx.AttributeProto.FromString(raw) for raw in node.attributes)
    schema = onnx.defs.get_schema(node.op_type, OPSET, node.domain)
    try:
        found = onnx.shape_inference.infer_node_outputs(
            schema,
            proto,
            types,
            data,
            opset_imports=[onnx.helper.make_opsetid(node.domain, OPSET)],
            ir_version=10,
        )
    except (onnx.shape_inference.InferenceError, onnx.checker.ValidationError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ShapeError(
            f"ONNX's shape inference refuses the node: {first}",
            "fix the node's inputs or attributes, or the layers that feed it",
            ".onnx_node",
        ) from exc
    return [_info(found.get(f"output_{i}")) for i in range(len(layer.outputs))]


def _oversized(dims: tuple[Dim, ...] | None) -> bool:
    if dims is None:
        return True
    count = 1
    for dim in dims:
        if isinstance(dim, int):
            if dim < 0:
                return True
            count *= dim
            if count > _MAX_ELEMENTS:
                return True
    return False


def _type_proto(onnx: Any, info: TensorInfo) -> Any:
    dims = [dim if isinstance(dim, int | str) else None for dim in info.dims or ()]
    return onnx.helper.make_tensor_type_proto(ONNX_ELEMENT_TYPES[info.dtype], dims)


def _info(found: Any) -> TensorInfo:
    """onnx's TypeProto as a TensorInfo: an unset dim stays unknown, no shape means unknown rank."""
    if found is None or found.WhichOneof("value") != "tensor_type":
        return UNKNOWN
    tensor = found.tensor_type
    dtype = _SPEC_DTYPE.get(tensor.elem_type, UNKNOWN_DTYPE)
    if not tensor.HasField("shape"):
        return TensorInfo(dtype, None)
    dims: list[Dim] = []
    for dim in tensor.shape.dim:
        which = dim.WhichOneof("value")
        dims.append(dim.dim_value if which == "dim_value" else dim.dim_param or None)
    return TensorInfo(dtype, tuple(dims))
