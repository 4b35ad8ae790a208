"""drop_broadcast_expands: an Expand is dropped only where the op's own broadcasting gives the same."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime
from onnx import TensorProto, helper

from mlspec.backends.portable.simplify import drop_broadcast_expands


def _model() -> onnx.ModelProto:
    """out = Expand(s) * x (droppable) + Expand(t) (stays: Add's other side is [1, 3, 4, 4], not
    the Expand's [N, 3, 4, 4], so only the Expand gives the output its batch dim)."""
    full: list[str | int] = ["N", 3, 4, 4]
    nodes = [
        helper.make_node("Shape", ["x"], ["x_shape"]),
        helper.make_node("Expand", ["s", "x_shape"], ["s_full"]),
        helper.make_node("Mul", ["s_full", "x"], ["scaled"]),
        helper.make_node("Expand", ["t", "x_shape"], ["t_full"]),
        helper.make_node("ReduceSum", ["scaled", "axes"], ["summed"], keepdims=1),
        helper.make_node("Add", ["summed", "t_full"], ["out"]),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, full),
            helper.make_tensor_value_info("s", TensorProto.FLOAT, [1, 3, 1, 1]),
            helper.make_tensor_value_info("t", TensorProto.FLOAT, [1, 3, 4, 4]),
        ],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, full)],
        [helper.make_tensor("axes", TensorProto.INT64, [1], [0])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    model.ir_version = 10
    return model


def _run(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> np.ndarray:
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return np.asarray(session.run(None, feeds)[0])


def test_only_the_expand_the_op_would_broadcast_anyway_is_dropped() -> None:
    model = _model()
    rng = np.random.default_rng(0)
    feeds = {
        "x": rng.normal(size=(5, 3, 4, 4)).astype(np.float32),
        "s": rng.normal(size=(1, 3, 1, 1)).astype(np.float32),
        "t": rng.normal(size=(1, 3, 4, 4)).astype(np.float32),
    }
    before = _run(model, feeds)
    drop_broadcast_expands(model)
    onnx.checker.check_model(model, full_check=True)
    expands = [list(node.input) for node in model.graph.node if node.op_type == "Expand"]
    assert expands == [["t", "x_shape"]]
    assert [list(n.input) for n in model.graph.node if n.op_type == "Mul"] == [["s", "x"]]
    after = _run(model, feeds)
    assert after.shape == (5, 3, 4, 4)
    np.testing.assert_array_equal(after, before)
    expected = (feeds["s"] * feeds["x"]).sum(axis=0, keepdims=True) + feeds["t"]
    np.testing.assert_allclose(after, np.broadcast_to(expected, (5, 3, 4, 4)), rtol=1e-6)


def test_a_graph_without_such_an_expand_is_left_alone() -> None:
    model = _model()
    del model.graph.node[1:3]  # no Expand feeding a Mul any more: the sum reads x itself
    (reduce,) = [node for node in model.graph.node if node.op_type == "ReduceSum"]
    reduce.input[0] = "x"
    onnx.checker.check_model(model, full_check=True)
    nodes = [onnx.helper.printable_node(node) for node in model.graph.node]
    drop_broadcast_expands(model)
    assert [onnx.helper.printable_node(node) for node in model.graph.node] == nodes
