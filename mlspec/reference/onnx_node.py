"""Reference for generic ONNX nodes, run by onnx's own Python reference implementation.

An imported node may be any ONNX op; restating each op's semantics here would be a second,
weaker copy of the ONNX spec. onnx.reference implements that spec in plain numpy and shares
nothing with mlspec's emitters or with onnxruntime, so it stays an independent yardstick.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx.reference import ReferenceEvaluator

from mlspec.reference.context import Array, LayerContext, LayerFunction
from mlspec.spec.errors import MlspecError
from mlspec.spec.weights import to_numpy

OPSET = 21  # the opset mlspec.convert emits


def _in_run_dtype(ctx: LayerContext, array: Array) -> Array:
    """Floats follow the run's dtype (float64 for gradient checks); integers stay as they are."""
    return ctx.as_float(array) if np.issubdtype(array.dtype, np.floating) else array


def _constant(ctx: LayerContext, name: str) -> Array:
    key = f"{ctx.layer.name}.constants.{name}"
    for constant in ctx.layer.onnx_node.constants:
        if constant.name == name:
            value = ctx.overrides[key] if key in ctx.overrides else to_numpy(constant.tensor, ctx.where)
            return _in_run_dtype(ctx, np.asarray(value))
    raise AssertionError(f"{key} looked up but absent")


def onnx_node(ctx: LayerContext, inputs: list[Array]) -> list[Array]:
    params = ctx.layer.onnx_node
    by_name = dict(zip(ctx.layer.inputs, inputs, strict=True))
    constant_names = {constant.name for constant in params.constants}
    feeds: dict[str, Array] = {}
    node_inputs: list[str] = []
    for index, name in enumerate(params.node_inputs):
        if not name:
            node_inputs.append("")
            continue
        slot = f"input_{index}"
        node_inputs.append(slot)
        if name in by_name:
            feeds[slot] = _in_run_dtype(ctx, by_name[name])
        elif name in constant_names:
            feeds[slot] = _constant(ctx, name)
        else:
            raise MlspecError(
                f"{ctx.where}.onnx_node.node_inputs[{index}]: {name!r} is neither a layer input "
                "nor a constant of this node"
            )
    node = onnx.helper.make_node(
        params.op_type,
        node_inputs,
        [f"output_{i}" for i in range(len(ctx.layer.outputs))],
        domain=params.domain,
    )
    node.attribute.extend(onnx.AttributeProto.FromString(raw) for raw in params.attributes)
    # Default-domain ops follow opset 21, as in the converted model; onnx picks other domains' versions.
    default_domain = params.domain in ("", "ai.onnx")
    evaluator = ReferenceEvaluator(node, opsets={"": OPSET} if default_domain else None)
    return [np.asarray(value) for value in evaluator.run(None, feeds)]


FUNCTIONS: dict[str, LayerFunction] = {"onnx_node": onnx_node}
