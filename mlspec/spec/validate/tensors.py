"""Weight rules: each layer's tensors against the layer's own attributes, down to the byte count.

A weight of the wrong size is the most common result of hand surgery on a spec, and the converter
would only fail on it much later with an ONNX message that names no layer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from mlspec._proto import layers_pb2, tensor_pb2
from mlspec.spec.errors import Problem
from mlspec.spec.kinds import KINDS, attribute_problems
from mlspec.spec.validate.context import Context, layer_where
from mlspec.spec.validate.onnx_nodes import check_onnx_node
from mlspec.spec.weights import NUMPY_DTYPES, dtype_name, non_finite

_FLOAT_WEIGHTS = (tensor_pb2.FLOAT32, tensor_pb2.FLOAT16, tensor_pb2.DOUBLE)


def check(context: Context) -> list[Problem]:
    problems: list[Problem] = []
    for index, layer in enumerate(context.model.network.layers):
        where = layer_where(layer, index)
        kind = layer.WhichOneof("kind")
        if kind is None:
            continue
        if kind == "onnx_node":
            problems += _onnx_node(layer.onnx_node, layer.inputs, where) or check_onnx_node(layer, where)
            continue
        problems += attribute_problems(layer, where)
        weights = KINDS[kind].weights
        expected, forbidden = weights(layer) if weights is not None else ({}, ())
        message = getattr(layer, kind)
        for field in forbidden:
            if message.HasField(field):
                problems.append(
                    Problem(
                        f"{where}.{field}", "is set but has_bias is false", "set has_bias or clear the bias"
                    )
                )
        for field, (shape, layout) in expected.items():
            if not message.HasField(field):
                problems.append(
                    Problem(f"{where}.{field}", "is missing", f"store a {layout} = {_dims(shape)} tensor")
                )
                continue
            problems += _tensor(getattr(message, field), f"{where}.{field}", shape, layout)
    return problems


def _dims(shape: Sequence[int]) -> str:
    return "[" + ", ".join(str(d) for d in shape) + "]"


def _product_text(shape: Sequence[int]) -> str:
    return f"{' x '.join(str(d) for d in shape) or 'scalar'} = {math.prod(shape)}"


MAX_ELEMENTS = 1 << 40
"""Budget for any tensor's element count (4 TiB of float32): past it a shape is a mistake, and
its product (more than 4300 digits for 300 dims of 2^62) cannot even be printed."""


def _oversized(shape: Sequence[int], where: str) -> list[Problem]:
    """A negative dim, or more elements than the budget, found without multiplying it all out."""
    count = 1
    for dim in shape:
        if dim < 0:
            return [Problem(where, f"shape has a negative dimension {dim}", "give dimensions >= 0")]
        count *= dim
        if count > MAX_ELEMENTS:
            return [
                Problem(
                    where,
                    f"shape of {len(shape)} dimensions holds more than {MAX_ELEMENTS} elements, the limit",
                    "fix the shape or the layer's attributes",
                )
            ]
    return []


def _tensor(tensor: tensor_pb2.Tensor, where: str, shape: tuple[int, ...], layout: str) -> list[Problem]:
    oversized = _oversized(tensor.shape, where) or _oversized(shape, f"{where} (expected)")
    if oversized:
        return oversized
    if tensor.dtype not in _FLOAT_WEIGHTS:
        return [
            Problem(
                where,
                f"dtype {dtype_name(tensor.dtype)} is not a float type",
                "store float32 (or float16/double) weights",
            )
        ]
    have = tuple(tensor.shape)
    if have != shape and math.prod(have) != math.prod(shape):
        return [
            Problem(
                where,
                f"{math.prod(have)} values (shape {_dims(have)}), expected {_product_text(shape)}",
                f"store a {layout} = {_dims(shape)} tensor, or fix the layer's attributes",
            )
        ]
    if have != shape:
        return [
            Problem(
                where,
                f"shape {_dims(have)}, expected {_dims(shape)}",
                f"store the values as {layout} = {_dims(shape)} (transpose or reshape them)",
            )
        ]
    return _storage(tensor, where) or _finite(tensor, where)


def _finite(tensor: tensor_pb2.Tensor, where: str) -> list[Problem]:
    """A NaN or infinite weight makes every prediction NaN; training cannot repair it."""
    found = non_finite(tensor)
    if found is None:
        return []
    index, value, count = found
    return [
        Problem(
            where,
            f"value {index} is {value} ({count} non-finite in all)",
            "store finite weights (re-initialise the layer with `mlspec reinit`, or retrain)",
        )
    ]


def _storage(tensor: tensor_pb2.Tensor, where: str) -> list[Problem]:
    """The bytes actually stored must match the tensor's own dtype and shape."""
    oversized = _oversized(tensor.shape, where)
    if oversized:
        return oversized
    dtype = NUMPY_DTYPES.get(tensor.dtype)
    if dtype is None:
        allowed = ", ".join(dtype_name(code) for code in NUMPY_DTYPES)
        return [Problem(where, f"dtype {dtype_name(tensor.dtype)} is not supported", f"use one of {allowed}")]
    count = math.prod(tensor.shape)
    needed = count * dtype.itemsize
    label = dtype_name(tensor.dtype).lower()
    storage = tensor.WhichOneof("storage")
    if storage == "external":
        if not tensor.external.location:
            return [Problem(f"{where}.external", "has no location", "name the weights file")]
        if tensor.external.length != needed:
            return [
                Problem(
                    f"{where}.external",
                    f"length {tensor.external.length} bytes, but shape {_dims(tensor.shape)} of {label} "
                    f"needs {needed}",
                    "fix the length or the shape",
                )
            ]
        return []
    stored = len(tensor.raw_data)
    if stored != needed:
        values = (
            f"{stored // dtype.itemsize} {label} values"
            if stored % dtype.itemsize == 0
            else "not whole values"
        )
        return [
            Problem(
                where,
                f"raw_data holds {stored} bytes ({values}), but shape {_dims(tensor.shape)} needs "
                f"{_product_text(tensor.shape)} values ({needed} bytes)",
                "store exactly one value per element (mlspec.spec.weights.set_tensor does this)",
            )
        ]
    return []


def _onnx_node(node: layers_pb2.OnnxNodeLayer, layer_inputs: Sequence[str], where: str) -> list[Problem]:
    problems: list[Problem] = []
    seen: set[str] = set()
    for index, constant in enumerate(node.constants):
        at = (
            f"{where}.onnx_node.constants[{constant.name!r}]"
            if constant.name
            else f"{where}.constants[{index}]"
        )
        if not constant.name or constant.name in seen:
            problems.append(Problem(at, "needs a unique, non-empty name", "name every constant once"))
        seen.add(constant.name)
        problems += _storage(constant.tensor, at)
    if not node.op_type:
        problems.append(Problem(f"{where}.onnx_node.op_type", "is empty", "give the ONNX operator type"))
    known = seen | set(layer_inputs)
    for name in node.node_inputs:
        if name and name not in known:
            problems.append(
                Problem(
                    f"{where}.onnx_node.node_inputs",
                    f'"{name}" is neither a layer input nor a constant of the node',
                    "list it in the layer's inputs, add it as a constant, or leave it empty if optional",
                )
            )
    return problems
