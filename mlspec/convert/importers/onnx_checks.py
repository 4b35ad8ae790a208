"""Proving an ONNX file well-formed before any native code reads it.

onnx's shape inference and version converter are C++ that trusts its input: an output naming a
tensor nothing produces, an int64 initializer holding one byte or a MaxPool with strides [0, 0]
kill the process with SIGSEGV or SIGFPE. So every import first checks, in Python, what those
crashes need (see docs/security.md):

- every node input and graph output is produced by a graph input, an initializer or an earlier
  node, and no tensor is written twice;
- every tensor (initializer, Constant value, tensor attribute) has a known dtype, non-negative
  dims, and exactly as many bytes or values as its dims and dtype say;
- window ops (Conv, pools, ...) have strides, dilations and kernel sizes >= 1 and pads >= 0;
- names stay under a length budget.

What cannot be proved this way is contained by running the native steps in a child process
(onnx_native.py).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

import onnx
from google.protobuf import descriptor
from google.protobuf.message import Message
from onnx import defs

from mlspec.spec.errors import MlspecError
from mlspec.spec.onnx_opsets import OPSET, WINDOW_MAX
from mlspec.spec.text import shown

TARGET_OPSET = OPSET
"""The opset imports are upgraded to: the one mlspec's exporter emits."""
MIN_OPSET = 9
MAX_NAME_CHARS = 4096
"""Longest tensor, node or graph name an import accepts."""
MAX_DECLARED_ELEMENTS = 1 << 40
"""More elements than any file could hold; beyond it dims are refused before any arithmetic."""

# Bytes per element in raw_data (4-bit types pack two elements per byte: see _raw_bytes).
_ITEM_BYTES: dict[int, int] = {
    onnx.TensorProto.FLOAT: 4,
    onnx.TensorProto.UINT8: 1,
    onnx.TensorProto.INT8: 1,
    onnx.TensorProto.UINT16: 2,
    onnx.TensorProto.INT16: 2,
    onnx.TensorProto.INT32: 4,
    onnx.TensorProto.INT64: 8,
    onnx.TensorProto.BOOL: 1,
    onnx.TensorProto.FLOAT16: 2,
    onnx.TensorProto.DOUBLE: 8,
    onnx.TensorProto.UINT32: 4,
    onnx.TensorProto.UINT64: 8,
    onnx.TensorProto.COMPLEX64: 8,
    onnx.TensorProto.COMPLEX128: 16,
    onnx.TensorProto.BFLOAT16: 2,
    onnx.TensorProto.FLOAT8E4M3FN: 1,
    onnx.TensorProto.FLOAT8E4M3FNUZ: 1,
    onnx.TensorProto.FLOAT8E5M2: 1,
    onnx.TensorProto.FLOAT8E5M2FNUZ: 1,
}
_PACKED_4BIT = frozenset({onnx.TensorProto.UINT4, onnx.TensorProto.INT4})
_TYPED_FIELDS = ("float_data", "int32_data", "string_data", "int64_data", "double_data", "uint64_data")
_COMPLEX = frozenset({onnx.TensorProto.COMPLEX64, onnx.TensorProto.COMPLEX128})

# Window ops and the attributes whose values must be >= 1 or >= 0.
_WINDOW_OPS = frozenset(
    {
        "Conv",
        "ConvTranspose",
        "ConvInteger",
        "QLinearConv",
        "MaxPool",
        "AveragePool",
        "LpPool",
        "MaxUnpool",
        "DeformConv",
        "Col2Im",
        "Im2Col",
    }
)
_AT_LEAST_ONE = ("strides", "dilations", "kernel_shape", "group", "block_shape")
_AT_LEAST_ZERO = ("pads", "output_padding")
_POSITIVE_SCALARS = {"LRN": "size", "SpaceToDepth": "blocksize", "DepthToSpace": "blocksize"}


class OnnxImportError(MlspecError):
    """An ONNX model that mlspec cannot import, with the reason and what to do instead."""


def check_model(model: onnx.ModelProto, where: str) -> None:
    """Raise OnnxImportError naming the first structural defect native code could crash on."""
    _check_text(model, "model", where)
    defaults = [opset for opset in model.opset_import if opset.domain in ("", "ai.onnx")]
    if len(defaults) > 1:
        raise OnnxImportError(f"{where}: the default ONNX domain is imported {len(defaults)} times, not once")
    if not defaults and any(op.domain == "ai.onnx.ml" for op in model.opset_import):
        ops = sorted({node.op_type for node in model.graph.node})
        raise OnnxImportError(
            f"{where}: a classic machine-learning model (ai.onnx.ml ops only: {', '.join(ops[:8])}), "
            "not a neural network; mlspec imports networks written with the default ONNX ops "
            "(a scikit-learn MLPClassifier or MLPRegressor exports as one)"
        )
    opset = int(defaults[0].version) if defaults else 1
    if not MIN_OPSET <= opset <= TARGET_OPSET:
        age = "newer" if opset > TARGET_OPSET else "older"
        advice = (
            f"re-export with opset_version={TARGET_OPSET}"
            if opset > TARGET_OPSET
            else "re-export with a newer opset"
        )
        raise OnnxImportError(
            f"{where}: opset {opset} is {age} than mlspec imports ({MIN_OPSET} to {TARGET_OPSET}); {advice}"
        )
    _check_ir_version(model, where)
    if not model.HasField("graph"):  # onnx's IR reader asserts on it (fuzz onnx seed 2026 #65955)
        raise OnnxImportError(
            f"{where}: the file holds no graph (ModelProto.graph is absent): no network to import"
        )
    _check_domains(model, where)
    _check_graph(model.graph, set(), opset, where)


def _check_ir_version(model: onnx.ModelProto, where: str) -> None:
    """An IR version onnx knows; before IR 4 every initializer had to be a graph input too, and
    onnx's version converter reads an initializer that is not one as an undefined tensor."""
    if not 1 <= model.ir_version <= onnx.IR_VERSION:
        raise OnnxImportError(
            f"{where}: IR version {model.ir_version} is not one this onnx reads "
            f"(1 to {onnx.IR_VERSION}); re-export the model"
        )
    if model.ir_version < 4:
        inputs = {value.name for value in model.graph.input}
        for init in model.graph.initializer:
            if init.name not in inputs:
                raise OnnxImportError(
                    f'{where}: initializer "{shown(init.name)}" is not a graph input, which IR version '
                    f"{model.ir_version} requires (IR 4 and later do not); re-export the model"
                )


def _check_domains(model: onnx.ModelProto, where: str) -> None:
    """Every node's operator domain is one the model imports an opset of."""
    imported = {opset.domain or "ai.onnx" for opset in model.opset_import}
    graphs = [model.graph]
    while graphs:
        graph = graphs.pop()
        for index, node in enumerate(graph.node):
            if (node.domain or "ai.onnx") not in imported:
                names = ", ".join(sorted(shown(domain) for domain in imported))
                label = f"node #{index} ({shown(node.op_type)})"
                raise OnnxImportError(
                    f'{where}: {label} is in the domain "{shown(node.domain)}", which the model does '
                    f"not import (its opset_import names {names})"
                )
            for attribute in node.attribute:
                graphs.extend([attribute.g] if attribute.HasField("g") else [])
                graphs.extend(attribute.graphs)


def _check_text(message: Message, path: str, where: str) -> None:
    """Every string must be UTF-8: onnx's proto2 strings may hold other bytes, which protobuf
    then hands out as bytes (or fails on), wherever a name happens to be read."""
    try:
        fields = message.ListFields()
    except UnicodeDecodeError:
        raise OnnxImportError(f"{where}: {path} holds text that is not UTF-8") from None
    for field, value in fields:
        values = value if field.is_repeated else [value]
        if field.type == descriptor.FieldDescriptor.TYPE_STRING:
            if any(not isinstance(text, str) for text in values):
                raise OnnxImportError(f"{where}: {path}.{field.name} holds text that is not UTF-8")
        elif field.type == descriptor.FieldDescriptor.TYPE_MESSAGE:
            for index, child in enumerate(values):
                _check_text(
                    child,
                    f"{path}.{field.name}[{index}]" if field.is_repeated else f"{path}.{field.name}",
                    where,
                )


def _check_graph(graph: onnx.GraphProto, outer: set[str], opset: int, where: str) -> None:
    _check_name(graph.name, "graph", where)
    available = set(outer)
    seen_initializers: set[str] = set()
    for init in graph.initializer:
        _check_name(init.name, "initializer", where)
        if init.name in seen_initializers:
            raise OnnxImportError(f'{where}: initializer "{shown(init.name)}" is defined twice')
        seen_initializers.add(init.name)
        check_tensor(init, f'initializer "{shown(init.name)}"', where)
    for sparse in graph.sparse_initializer:
        raise OnnxImportError(
            f'{where}: sparse initializer "{sparse.values.name}": mlspec imports dense initializers only; '
            "re-export with dense weights"
        )
    for value in (*graph.input, *graph.output, *graph.value_info):
        _check_value_info(value, where)
    available.update(seen_initializers)
    available.update(value.name for value in graph.input)
    for index, node in enumerate(graph.node):
        label = f'node "{node.name}" ({node.op_type})' if node.name else f"node #{index} ({node.op_type})"
        _check_name(node.name, "node", where)
        _check_name(node.op_type, "op type", where)
        for name in node.input:
            if name and name not in available:
                raise OnnxImportError(
                    f'{where}: {label} reads "{shown(name)}", which no graph input, initializer or earlier '
                    "node produces; the graph is broken or not in topological order"
                )
        _check_schema(node, opset, label, where)
        _check_attributes(node, label, available, opset, where)
        for name in node.output:
            _check_name(name, "tensor", where)
            if name and name in available:
                raise OnnxImportError(
                    f'{where}: {label} writes "{shown(name)}", which is already defined; every tensor '
                    "must be written once"
                )
            available.add(name)
    for value in graph.output:
        if value.name not in available:
            raise OnnxImportError(
                f'{where}: graph output "{shown(value.name)}" is not produced by any node, input or '
                "initializer"
            )


def _check_schema(node: onnx.NodeProto, opset: int, label: str, where: str) -> None:
    """Input and output counts and attribute types of a default-domain node, as its schema says."""
    if node.domain not in ("", "ai.onnx"):
        return
    try:
        schema = defs.get_schema(node.op_type, opset, "")
    except defs.SchemaError:
        raise OnnxImportError(
            f"{where}: {label}: {shown(node.op_type)} is not an ONNX operator at opset {opset}"
        ) from None
    for kind, count, low, high in (
        ("inputs", len(node.input), schema.min_input, schema.max_input),
        ("outputs", len(node.output), schema.min_output, schema.max_output),
    ):
        if not low <= count <= high:
            allowed = f"{low} or more" if high >= 2**31 - 1 else f"{low} to {high}"
            raise OnnxImportError(f"{where}: {label} has {count} {kind}; {node.op_type} takes {allowed}")
    if node.op_type == "BatchNormalization" and len(node.output) > 3:  # opsets 9-13 only
        raise OnnxImportError(
            f"{where}: {label} has {len(node.output)} outputs (training mode's saved mean and "
            "variance), which BatchNormalization has no more after opset 13, so the model cannot be "
            "upgraded; re-export it in inference mode (model.eval())"
        )
    _check_empty_inputs(node, schema, label, where)
    for attr in node.attribute:
        wanted = schema.attributes.get(attr.name)
        if wanted is None:
            raise OnnxImportError(
                f'{where}: {label} has attribute "{shown(attr.name)}", which {node.op_type} does not define'
            )
        expected = int(wanted.type)  # type: ignore[call-overload]
        if attr.ref_attr_name or attr.type != expected:
            kind = onnx.AttributeProto.AttributeType.Name(expected).lower()
            raise OnnxImportError(f'{where}: {label} attribute "{attr.name}" must be of type {kind}')


def _check_empty_inputs(node: onnx.NodeProto, schema: defs.OpSchema, label: str, where: str) -> None:
    """An empty input name leaves out an optional input; onnx's version converter crashed
    (SIGSEGV) on an Identity whose one, required, input was empty (fuzz onnx seed 2026 #27020)."""
    params = list(schema.inputs)
    for index, name in enumerate(node.input):
        if name or not params:
            continue
        param = params[min(index, len(params) - 1)]  # inputs past the list fill the variadic last one
        if param.option != defs.OpSchema.FormalParameterOption.Optional:
            raise OnnxImportError(
                f'{where}: {label} input {index} ("{param.name}") is empty; {node.op_type} requires it, '
                "only optional inputs may be left out"
            )


def _check_attributes(node: onnx.NodeProto, label: str, scope: set[str], opset: int, where: str) -> None:
    for attr in node.attribute:
        _check_name(attr.name, "attribute", where)
        if attr.HasField("sparse_tensor") or len(attr.sparse_tensors):
            raise OnnxImportError(
                f'{where}: {label} attribute "{attr.name}" is a sparse tensor; mlspec imports dense '
                "constants only"
            )
        for index, tensor in enumerate(_attribute_tensors(attr)):
            check_tensor(tensor, f'{label} attribute "{attr.name}"[{index}]', where)
        for graph in _attribute_graphs(attr):
            _check_graph(graph, scope, opset, where)
    if node.domain not in ("", "ai.onnx"):
        return
    attrs = {attr.name: attr for attr in node.attribute}
    if node.op_type in _WINDOW_OPS:
        for name in (*_AT_LEAST_ONE, *_AT_LEAST_ZERO):
            if name in attrs:
                _check_ints(attrs[name], 1 if name in _AT_LEAST_ONE else 0, label, where)
    scalar = _POSITIVE_SCALARS.get(node.op_type)
    if scalar is not None and scalar in attrs:
        _check_ints(attrs[scalar], 1, label, where)


def _check_ints(attr: onnx.AttributeProto, lowest: int, label: str, where: str) -> None:
    if attr.type == onnx.AttributeProto.INTS:
        values = list(attr.ints)
    elif attr.type == onnx.AttributeProto.INT:
        values = [attr.i]
    else:
        raise OnnxImportError(f'{where}: {label} attribute "{attr.name}" is not an integer list; it must be')
    bad = [value for value in values if not lowest <= value <= WINDOW_MAX]
    if bad:
        raise OnnxImportError(
            f'{where}: {label} attribute "{attr.name}" = {values[:8]} holds {bad[0]}; '
            f"allowed values are {lowest} to {WINDOW_MAX}"
        )


def _attribute_tensors(attr: onnx.AttributeProto) -> Iterator[onnx.TensorProto]:
    if attr.HasField("t"):
        yield attr.t
    yield from attr.tensors


def _attribute_graphs(attr: onnx.AttributeProto) -> Iterable[onnx.GraphProto]:
    if attr.HasField("g"):
        yield attr.g
    yield from attr.graphs


def declared_elements(dims: Iterable[int], label: str, where: str) -> int:
    """The element count dims declare, refusing negative dims and absurd products."""
    count = 1
    for dim in dims:
        if dim < 0:
            raise OnnxImportError(f"{where}: {label} has a negative dim ({dim}); dims must be >= 0")
        count *= dim
        if count > MAX_DECLARED_ELEMENTS:
            raise OnnxImportError(
                f"{where}: {label} declares more than {MAX_DECLARED_ELEMENTS:,} elements; no file holds that"
            )
    return count


def check_tensor(tensor: onnx.TensorProto, label: str, where: str) -> None:
    """Known dtype, sane dims, and exactly as much data as the dims and dtype say."""
    count = declared_elements(tensor.dims, label, where)
    dtype = tensor.data_type
    if not _known_dtype(dtype):
        raise OnnxImportError(f"{where}: {label} has data type {dtype}, which ONNX does not define")
    if tensor.HasField("segment"):
        raise OnnxImportError(
            f"{where}: {label} is a segment of a larger tensor; mlspec imports whole tensors"
        )
    if tensor.data_location == onnx.TensorProto.EXTERNAL:
        if dtype == onnx.TensorProto.STRING:
            raise OnnxImportError(f"{where}: {label} is a string tensor in external data; ONNX forbids that")
        return  # sized and read by onnx_external, which knows the file
    sources = [field for field in _TYPED_FIELDS if len(getattr(tensor, field))]
    if tensor.HasField("raw_data"):
        sources.append("raw_data")
    if len(sources) > 1:
        raise OnnxImportError(f"{where}: {label} stores its values twice ({' and '.join(sources)})")
    if not sources:
        if count:
            raise OnnxImportError(f"{where}: {label} declares {count:,} elements but holds no data")
        return
    source = sources[0]
    if source == "raw_data":
        if dtype == onnx.TensorProto.STRING:
            raise OnnxImportError(f"{where}: {label} is a string tensor in raw bytes; ONNX forbids that")
        held, wanted, unit = len(tensor.raw_data), raw_bytes(dtype, count), "bytes"
    else:
        expected = onnx.helper.tensor_dtype_to_field(dtype)
        if source != expected:
            kind = _type_name(dtype)
            raise OnnxImportError(f"{where}: {label} keeps {kind} values in {source}, not {expected}")
        held, unit = len(getattr(tensor, source)), "values"
        wanted = (count + 1) // 2 if dtype in _PACKED_4BIT else count * (2 if dtype in _COMPLEX else 1)
    if held != wanted:
        raise OnnxImportError(
            f"{where}: {label} is {_type_name(dtype)} with dims {list(tensor.dims)}, which needs {wanted:,} "
            f"{unit}, but it holds {held:,}"
        )


def _known_dtype(dtype: int) -> bool:
    return dtype in _ITEM_BYTES or dtype in _PACKED_4BIT or dtype == onnx.TensorProto.STRING


def raw_bytes(dtype: int, count: int) -> int:
    """Bytes `count` elements of `dtype` take in raw_data or external data."""
    return (count + 1) // 2 if dtype in _PACKED_4BIT else count * _ITEM_BYTES[dtype]


def _check_value_info(value: onnx.ValueInfoProto, where: str) -> None:
    _check_name(value.name, "tensor", where)
    if not value.type.HasField("tensor_type"):
        return
    tensor = value.type.tensor_type
    if tensor.elem_type and not _known_dtype(tensor.elem_type):
        raise OnnxImportError(
            f'{where}: tensor "{shown(value.name)}" has element type {tensor.elem_type}, '
            "which ONNX does not define"
        )
    for dim in tensor.shape.dim:  # a declared -1 (paddle2onnx's "unknown") is left to prepare
        _check_name(dim.dim_param, "dim", where)


def _check_name(name: str, kind: str, where: str) -> None:
    if len(name) > MAX_NAME_CHARS:
        raise OnnxImportError(
            f'{where}: a {kind} name of {len(name):,} characters ("{shown(name)}"); '
            f"names may have at most {MAX_NAME_CHARS} characters"
        )


def _type_name(dtype: int) -> str:
    return str(onnx.TensorProto.DataType.Name(dtype))
