"""Generic ONNX nodes checked against the ONNX operator schemas, so what validates also converts.

A generic node carries an op type and serialized attributes straight into the ONNX models mlspec
writes, where onnx's checker and ONNX Runtime's kernels read them. Some attribute values those
native readers do not survive: a MaxPool with strides [0, 0] divides by zero inside ORT's shape
inference and kills the process with SIGFPE; a dilation of 2**62 overflows its size arithmetic.
So every attribute must parse, belong to the operator's schema with the schema's type, and window
attributes must lie in a sane range, before onnx's own node checker (native code, safe once the
node is well-formed) has the last word.

onnx is imported only when a spec holds a generic node, so validating typed specs stays quick.
"""

from __future__ import annotations

from typing import Any

from google.protobuf.message import DecodeError

from mlspec._proto import layers_pb2
from mlspec.spec.errors import Problem
from mlspec.spec.onnx_opsets import DOMAIN_OPSETS, OPSET, WINDOW_MAX

# The domains whose operator schemas onnx knows, at the opsets mlspec's models import.
_SCHEMA_OPSETS = {"": OPSET, "ai.onnx": OPSET, "ai.onnx.ml": DOMAIN_OPSETS["ai.onnx.ml"]}
# Attribute -> smallest allowed value; each value must also stay at most WINDOW_MAX.
_WINDOW_ATTRIBUTES = {"strides": 1, "dilations": 1, "kernel_shape": 1, "pads": 0, "output_padding": 0}


def check_onnx_node(layer: layers_pb2.Layer, where: str) -> list[Problem]:
    import onnx  # noqa: PLC0415 (only specs with generic nodes pay for onnx)

    node, at = layer.onnx_node, f"{where}.onnx_node"
    attributes, problems = _parse(onnx, node, at)
    if problems or not node.op_type:
        return problems
    if node.domain not in _SCHEMA_OPSETS and node.domain not in DOMAIN_OPSETS:
        return [
            Problem(
                f"{at}.domain",
                f"{node.domain!r} is not an operator domain mlspec's models import",
                f"use the default domain (empty) or one of {', '.join(DOMAIN_OPSETS)}",
            )
        ]
    opset = _SCHEMA_OPSETS.get(node.domain)
    if opset is None:  # com.microsoft: no schema to check against here
        return _windows(attributes, at)
    if not onnx.defs.has(node.op_type, node.domain):
        return [
            Problem(
                f"{at}.op_type",
                f"{node.op_type!r} is not an operator of the ONNX domain {node.domain or 'ai.onnx'!r}",
                "use an ONNX operator name (case matters), or set the domain it belongs to",
            )
        ]
    schema = onnx.defs.get_schema(node.op_type, opset, node.domain)
    problems = _against_schema(attributes, schema, at) or _windows(attributes, at)
    if problems:
        return problems
    return _onnx_checker(onnx, layer, attributes, opset, at)


def _parse(onnx: Any, node: layers_pb2.OnnxNodeLayer, at: str) -> tuple[list[Any], list[Problem]]:
    attributes, problems, names = [], [], set()
    for index, raw in enumerate(node.attributes):
        attribute = onnx.AttributeProto()
        try:
            attribute.ParseFromString(raw)
        except DecodeError:
            problems.append(
                Problem(f"{at}.attributes[{index}]", "is not a serialized ONNX AttributeProto", "re-import")
            )
            continue
        if not attribute.name or attribute.name in names:
            problems.append(
                Problem(f"{at}.attributes[{index}]", "needs a unique, non-empty name", "name it once")
            )
        names.add(attribute.name)
        attributes.append(attribute)
    return attributes, problems


def _against_schema(attributes: list[Any], schema: Any, at: str) -> list[Problem]:
    problems = []
    for attribute in attributes:
        declared = schema.attributes.get(attribute.name)
        if declared is None:
            known = ", ".join(sorted(schema.attributes)) or "none"
            problems.append(
                Problem(
                    f"{at}.attributes[{attribute.name!r}]",
                    f"{schema.name} has no attribute {attribute.name!r}",
                    f"use one of its attributes: {known}",
                )
            )
        elif int(declared.type) != int(attribute.type):
            problems.append(
                Problem(
                    f"{at}.attributes[{attribute.name!r}]",
                    f"has type {int(attribute.type)}, {schema.name} declares type {int(declared.type)}",
                    "store the attribute with the type the ONNX operator declares",
                )
            )
    return problems


def _windows(attributes: list[Any], at: str) -> list[Problem]:
    problems = []
    for attribute in attributes:
        low = _WINDOW_ATTRIBUTES.get(attribute.name)
        if low is None:
            continue
        values = list(attribute.ints)
        if any(value < low or value > WINDOW_MAX for value in values):
            problems.append(
                Problem(
                    f"{at}.attributes[{attribute.name!r}]",
                    f"{attribute.name} {values} has a value outside [{low}, {WINDOW_MAX}]",
                    f"give every {attribute.name} value in [{low}, {WINDOW_MAX}]",
                )
            )
    return problems


def _onnx_checker(
    onnx: Any, layer: layers_pb2.Layer, attributes: list[Any], opset: int, at: str
) -> list[Problem]:
    node = layer.onnx_node
    proto = onnx.NodeProto(op_type=node.op_type, domain=node.domain)
    inputs = [f"input_{i}" if name else "" for i, name in enumerate(node.node_inputs)]
    while inputs and not inputs[-1]:  # trailing omitted optional inputs are no inputs at all
        inputs.pop()
    proto.input.extend(inputs)
    proto.output.extend(f"output_{i}" for i in range(len(layer.outputs)))
    proto.attribute.extend(attributes)
    context = onnx.checker.C.CheckerContext()
    context.ir_version = 10
    context.opset_imports = {node.domain: opset}
    try:
        onnx.checker.check_node(proto, context)
    except onnx.checker.ValidationError as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return [
            Problem(at, f"ONNX's checker refuses the node: {first}", "fix the node's attributes or inputs")
        ]
    return []
