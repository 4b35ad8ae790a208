"""Reverse-mode differentiation of an ONNX graph into standard ONNX ops (opset 21, no contrib ops).

`add_gradients` appends the backward pass of a forward model: for every tensor named in `wrt`
(graph inputs: the portable backend feeds parameters as inputs, so the step model has no
trainable initializers) it adds a graph output `<name>_grad` holding d(loss)/d(tensor). Only
nodes between `wrt` and the loss are differentiated; gradients flow only through floating-point
tensors, so comparisons, shapes and masks stop them without rules of their own. A tensor read by
several nodes gets the Add of their contributions. The rules themselves live in grad_rules/,
one declaration per op type, grouped by family; DIFFERENTIABLE_OPS is their key set, which other
parts of mlspec use to decide whether a graph can train on the portable backend.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import onnx
from onnx import helper, numpy_helper

from mlspec.backends.portable.grad_rules import RULES
from mlspec.backends.portable.grad_rules.base import FLOAT_TYPES, GradContext
from mlspec.spec.errors import MlspecError

DIFFERENTIABLE_OPS: frozenset[str] = frozenset(RULES)


class NotDifferentiable(MlspecError):  # noqa: N818 (the name the backend interface agreed on)
    """An op on the path from the parameters to the loss has no gradient rule."""


def add_gradients(model: onnx.ModelProto, loss: str, wrt: Sequence[str]) -> onnx.ModelProto:
    """A copy of `model` that also outputs f"{name}_grad" = d(loss)/d(name) for each name in wrt."""
    result = onnx.ModelProto()
    result.CopyFrom(model)
    graph = result.graph
    # Rules may add an output to a forward node (MaxPool's Indices, Dropout's mask), so they see
    # the nodes of the returned copy; types come from shape inference on the original.
    types = _value_types(onnx.shape_inference.infer_shapes(model, data_prop=True).graph)
    inputs = {value.name for value in graph.input}
    for name in wrt:
        if name not in inputs:
            raise MlspecError(
                f"add_gradients: {name!r} is not a graph input; gradients are taken with respect to "
                f"inputs (graph inputs: {', '.join(sorted(inputs)) or '(none)'})"
            )
    if loss not in types and loss not in {out for node in graph.node for out in node.output}:
        raise MlspecError(f"add_gradients: the loss {loss!r} is not a tensor of the graph")
    path = _path_nodes(graph, loss, set(wrt), types)
    missing = [node for node in path if node.domain not in ("", "ai.onnx") or node.op_type not in RULES]
    if missing:
        node = missing[0]
        op = f"{node.domain}.{node.op_type}" if node.domain else node.op_type
        raise NotDifferentiable(
            f"node {node.name or '(unnamed)'!r} ({op}) lies "
            f"between the parameters and the loss but has no portable gradient rule; differentiable "
            f"ops: {', '.join(sorted(DIFFERENTIABLE_OPS))}"
        )
    carries = _carries_gradient(graph, set(wrt), types)
    # Built once: scanning the graph inputs for each parameter was quadratic in parameters.
    input_types = {value.name: value.type for value in model.graph.input}
    ctx = GradContext(types, _constants(graph))
    grads: dict[str, list[str]] = {loss: [_seed(ctx, loss)]}
    for node in reversed(path):
        output_grads = [_accumulated(ctx, grads, name) for name in node.output]
        if all(grad is None for grad in output_grads):
            continue
        needed = [name in carries for name in node.input]
        try:
            results = RULES[node.op_type](ctx, node, output_grads, needed)
        except ValueError as error:  # a form of the op the rule does not cover
            raise NotDifferentiable(f"node {node.name or '(unnamed)'!r} ({node.op_type}): {error}") from error
        for name, grad, wanted in zip(node.input, results, needed, strict=False):
            if grad is not None and wanted:
                grads.setdefault(name, []).append(grad)
    produced = {output for node in ctx.nodes for output in node.output}
    renamed: dict[str, str] = {}
    for name in wrt:
        grad = _accumulated(ctx, grads, name)
        if grad is None:  # the loss does not depend on it
            grad = ctx.op("Expand", [ctx.const(0.0, name), ctx.shape(name)], "zero", like=name)
            produced.add(grad)
        output = f"{name}_grad"
        if grad in produced and grad not in renamed:
            renamed[grad] = output  # the backward's own tensor becomes the output: no copy
        else:  # a forward tensor, or the gradient of another tensor too
            ctx.nodes.append(helper.make_node("Identity", [grad], [output], name=output))
        graph.output.append(helper.make_value_info(output, input_types[name]))
    for node in ctx.nodes:
        node.input[:] = [renamed.get(name, name) for name in node.input]
        node.output[:] = [renamed.get(name, name) for name in node.output]
    graph.node.extend(ctx.nodes)
    return result


def _value_types(graph: onnx.GraphProto) -> dict[str, onnx.TypeProto]:
    types = {value.name: value.type for value in (*graph.input, *graph.value_info, *graph.output)}
    for tensor in graph.initializer:
        types.setdefault(tensor.name, helper.make_tensor_type_proto(tensor.data_type, list(tensor.dims)))
    return types


def _constants(graph: onnx.GraphProto) -> dict[str, np.ndarray]:
    """Values known before running: small initializers and Constant nodes (shape and axes inputs)."""
    values = {
        tensor.name: numpy_helper.to_array(tensor)
        for tensor in graph.initializer
        if np.prod(tensor.dims, dtype=np.int64) <= 64
    }
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            values[node.output[0]] = numpy_helper.to_array(node.attribute[0].t)
    return values


def _is_float(name: str, types: dict[str, onnx.TypeProto]) -> bool:
    tensor_type = types.get(name)
    return tensor_type is not None and tensor_type.tensor_type.elem_type in FLOAT_TYPES


def _carries_gradient(graph: onnx.GraphProto, wrt: set[str], types: dict[str, onnx.TypeProto]) -> set[str]:
    """Float tensors that depend on a wrt tensor (forward reachability; nodes are topologically sorted)."""
    reached = set(wrt)
    for node in graph.node:
        if any(name in reached for name in node.input):
            reached.update(name for name in node.output if _is_float(name, types))
    return reached


def _path_nodes(
    graph: onnx.GraphProto, loss: str, wrt: set[str], types: dict[str, onnx.TypeProto]
) -> list[onnx.NodeProto]:
    """Nodes, in forward order, that read a wrt-dependent tensor and feed the loss."""
    carries = _carries_gradient(graph, wrt, types)
    needed = {loss}
    path: list[onnx.NodeProto] = []
    for node in reversed(graph.node):
        if not any(name in needed for name in node.output):
            continue
        if any(name in carries for name in node.input) and any(
            name in carries and name in needed for name in node.output
        ):
            path.append(node)
            needed.update(name for name in node.input if name in carries)
    path.reverse()
    return path


def _seed(ctx: GradContext, loss: str) -> str:
    """d(loss)/d(loss): ones shaped like the loss (a scalar for the mean losses mlspec builds)."""
    dims = ctx.dims(loss)
    if dims == []:
        return ctx.const(1.0, loss)
    return ctx.op("Expand", [ctx.const(1.0, loss), ctx.shape(loss)], "seed", like=loss)


def _accumulated(ctx: GradContext, grads: dict[str, list[str]], name: str) -> str | None:
    """The sum of every gradient contribution to `name`, folded into one entry."""
    parts = grads.get(name)
    if not parts:
        return None
    total = parts[0]
    for part in parts[1:]:
        total = ctx.op("Add", [total, part], "accumulate", like=total)
    grads[name] = [total]
    return total
