"""Peephole simplification of a step model: drop Expands that an elementwise op would broadcast anyway.

The gradient of a reduction is its upstream gradient broadcast back to the input's shape (an
Expand): needed for the shape, but when the only reader is an elementwise Add, Sub, Mul or Div
whose other operand already has that full shape, broadcasting inside the op gives the same
values, and the Expand's pass over the full tensor is saved. Shapes are ONNX shape inference's
(symbolic batch dims included); where either shape is not fully known the Expand stays.
"""

from __future__ import annotations

from collections import Counter

import onnx

_BROADCASTING = frozenset({"Add", "Sub", "Mul", "Div"})


def drop_broadcast_expands(model: onnx.ModelProto) -> None:
    """Rewire each qualifying Expand's reader to the Expand's input; unread nodes then go."""
    graph = model.graph
    inferred = onnx.shape_inference.infer_shapes(model, data_prop=True).graph
    values = (*inferred.input, *inferred.value_info, *inferred.output)
    shapes = {value.name: _shape(value) for value in values}
    producers = {output: node for node in graph.node for output in node.output}
    readers = Counter(name for node in graph.node for name in node.input)
    readers.update(value.name for value in graph.output)
    dropped = False
    for node in graph.node:
        if node.op_type not in _BROADCASTING or node.domain not in ("", "ai.onnx") or len(node.input) != 2:
            continue
        for side in (0, 1):
            expand = producers.get(node.input[side])
            if expand is None or expand.op_type != "Expand":
                continue
            other = shapes.get(node.input[1 - side])
            full = shapes.get(node.input[side])
            source = shapes.get(expand.input[0])
            if (
                readers[expand.output[0]] == 1
                and full is not None
                and other == full
                and source is not None
                and len(source) <= len(full)
            ):
                node.input[side] = expand.input[0]
                dropped = True
                break
    if dropped:
        _drop_unread(graph)


def _drop_unread(graph: onnx.GraphProto) -> None:
    """Remove nodes none of whose outputs is read (the dropped Expands, then their shape inputs)."""
    while True:
        read = {name for node in graph.node for name in node.input} | {v.name for v in graph.output}
        kept = [node for node in graph.node if any(output in read for output in node.output)]
        if len(kept) == len(graph.node):
            return
        del graph.node[:]
        graph.node.extend(kept)


def _shape(value: onnx.ValueInfoProto) -> tuple[int | str, ...] | None:
    """The dims of a value when every one is known (a number or a symbolic name), else None."""
    if not value.type.tensor_type.HasField("shape"):
        return None
    dims: list[int | str] = []
    for dim in value.type.tensor_type.shape.dim:
        which = dim.WhichOneof("value")
        if which is None:
            return None
        dims.append(dim.dim_value if which == "dim_value" else dim.dim_param)
    return tuple(dims)
