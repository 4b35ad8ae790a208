"""How real exporters spell things that mlspec must read the way they mean it."""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto

from mlspec.builder import NetworkBuilder, SgdParams
from mlspec.convert.importers import import_onnx
from mlspec.runtime import Trainer
from mlspec.spec.validate import find_problems
from tests.importers.onnx_models import GraphBuilder, assert_export_matches, image_batch


def _conv_taking(dims: list[int | str]) -> tuple[GraphBuilder, onnx.ModelProto]:
    b = GraphBuilder(opset=11)
    conv = b.node("Conv", ["x", b.random("w", 2, 3, 1, 1)], name="conv")
    return b, b.build([("x", TensorProto.FLOAT, dims)], [conv], output_names=["y"])


def test_zero_sizes_become_symbols() -> None:
    """Some tools declare an unknown size as 0, which no model's interface means literally."""
    _, original = _conv_taking([0, 3, 8, 0])
    spec = import_onnx(original)
    dims = [(d.size, d.symbol) for d in spec.description.inputs[0].type.tensor.shape]
    assert dims == [(0, "batch"), (3, ""), (8, ""), (0, "x_dim3")]


def test_minus_one_sizes_become_symbols_and_train() -> None:
    """paddle2onnx declares unknown sizes as -1: PaddleOCR's classifier takes x [-1, 3, -1, -1]."""
    _, original = _conv_taking([-1, 3, -1, -1])
    spec = import_onnx(original)
    dims = [(d.size, d.symbol) for d in spec.description.inputs[0].type.tensor.shape]
    assert dims == [(0, "batch"), (3, ""), (0, "x_dim2"), (0, "x_dim3")]
    assert_export_matches(original, spec, {"x": image_batch(2, 3, 5, 7)})
    builder = NetworkBuilder.edit(spec)
    builder.make_updatable(["conv"])
    builder.set_loss("mean_squared_error", "y")
    builder.set_optimizer(SgdParams(lr=0.1, batch=2))
    builder.set_epochs(5)
    assert find_problems(builder.spec) == []
    images = image_batch(2, 3, 5, 7, seed=3)
    with Trainer.from_spec(builder.spec) as trainer:  # a 5 x 7 image through the symbolic axes
        losses = trainer.train((images, np.zeros((2, 2, 5, 7), np.float32))).epoch_losses
    assert losses[-1] < losses[0]


def _heads_round_trip() -> onnx.ModelProto:
    """k.transpose(-2, -1) as torch's dynamo exporter writes it for attention: q [batch, heads,
    seq, dim] is reshaped to [batch * heads, seq, dim] (a -1 first), transposed, and reshaped back
    with a target whose batch entry comes from Shape(q) at run time."""
    b = GraphBuilder(opset=18)
    shape = b.node("Shape", ["q"])
    seq = b.node("Slice", [shape, b.ints("m2", [-2]), b.ints("m1", [-1])])
    dim = b.node("Slice", [shape, b.ints("m1b", [-1]), b.ints("end", [2**62])])
    merged = b.node("Reshape", ["q", b.node("Concat", [b.ints("minus", [-1]), seq, dim], axis=0)])
    flipped = b.node("Transpose", [merged], perm=[0, 2, 1])
    lead = b.node("Slice", [shape, b.ints("begin", [0]), b.ints("m2b", [-2])])
    target = b.node("Concat", [lead, dim, seq], axis=0)
    out = b.node("Reshape", [flipped, target], name="node_Reshape_55")
    return b.build([("q", TensorProto.FLOAT, ["batch", 3, 4, 5])], [out], output_names=["kt"])


def test_a_reshape_from_shape_onto_batch_times_heads_runs_at_every_batch() -> None:
    """Axis 0 of the reshaped tensor is batch * heads, not the batch: a batch-keeping reshape
    would keep batch * heads, so the import must produce [batch, heads, dim, seq] at any batch."""
    original = _heads_round_trip()
    spec = import_onnx(original)
    # The target's batch entry is the only one the element count leaves open: the frozen Reshape
    # keeps a constant target with -1 there instead of recomputing it through Shape at run time.
    frozen = [layer.onnx_node.op_type for layer in spec.network.layers if layer.HasField("onnx_node")]
    assert frozen == ["Reshape", "Reshape"]
    for batch in (1, 2, 5):
        q = image_batch(batch, 3, 4, 5, seed=batch)
        actual = assert_export_matches(original, spec, {"q": q})
        np.testing.assert_array_equal(actual["kt"], q.transpose(0, 1, 3, 2))


@pytest.mark.parametrize(
    ("opset", "axes", "keepdims", "kinds"),
    [
        (18, [-1, -2], 1, ["convolution", "pooling"]),  # dynamo: adaptive_avg_pool2d(x, 1)
        (18, [-2, -1], 0, ["convolution", "pooling", "flatten"]),  # dynamo: x.mean((2, 3))
        (13, [2, 3], 0, ["convolution", "pooling", "flatten"]),  # TorchScript: axes as an attribute
        (13, [2, 3], 1, ["convolution", "pooling"]),
    ],
)
def test_reduce_mean_over_the_spatial_axes_is_a_typed_global_average_pool(
    opset: int, axes: list[int], keepdims: int, kinds: list[str]
) -> None:
    b = GraphBuilder(opset=opset)
    conv = b.node("Conv", ["x", b.random("w", 2, 3, 1, 1)], name="conv")
    if opset >= 18:
        mean = b.node("ReduceMean", [conv, b.ints("axes", axes)], keepdims=keepdims, name="mean")
    else:
        mean = b.node("ReduceMean", [conv], axes=axes, keepdims=keepdims, name="mean")
    original = b.build([("x", TensorProto.FLOAT, ["batch", 3, 5, 7])], [mean], output_names=["y"])
    spec = import_onnx(original)
    assert [layer.WhichOneof("kind") for layer in spec.network.layers] == kinds
    assert getattr(spec.network.layers[1].pooling, "global")
    assert_export_matches(original, spec, {"x": image_batch(2, 3, 5, 7)})


def test_reduce_mean_over_channels_stays_a_generic_node() -> None:
    b = GraphBuilder(opset=13)
    conv = b.node("Conv", ["x", b.random("w", 2, 3, 1, 1)], name="conv")
    mean = b.node("ReduceMean", [conv], axes=[1, 2, 3], keepdims=0, name="mean")
    spec = import_onnx(b.build([("x", TensorProto.FLOAT, ["batch", 3, 5, 7])], [mean], output_names=["y"]))
    assert [layer.WhichOneof("kind") for layer in spec.network.layers] == ["convolution", "onnx_node"]


@pytest.mark.parametrize(("opset", "axis"), [(13, -1), (18, 1), (13, 2)])
def test_a_softmax_spelled_from_reduce_max_is_one_softmax_layer(opset: int, axis: int) -> None:
    """Exp(x - ReduceMax(x)) / ReduceSum(Exp(...)), keepdims 1: axes as an input from opset 18
    (ReduceSum from 13), as an attribute before."""
    b = GraphBuilder(opset=opset)
    logits = b.node("Conv", ["x", b.random("w", 4, 3, 1, 1)], name="conv")

    def reduce(op: str, source: str) -> str:
        if op == "ReduceSum" or opset >= 18:
            return b.node(op, [source, b.ints(f"{op}_axes", [axis])], keepdims=1)
        return b.node(op, [source], axes=[axis], keepdims=1)

    exp = b.node("Exp", [b.node("Sub", [logits, reduce("ReduceMax", logits)])])
    out = b.node("Div", [exp, reduce("ReduceSum", exp)])
    original = b.build([("x", TensorProto.FLOAT, ["batch", 3, 5, 6])], [out], output_names=["y"])
    spec = import_onnx(original)
    assert [layer.WhichOneof("kind") for layer in spec.network.layers] == ["convolution", "softmax"]
    assert spec.network.layers[1].softmax.axis == (0 if axis == -1 else axis)
    images = image_batch(2, 3, 5, 6) * 30  # large logits: the max subtraction matters
    assert_export_matches(original, spec, {"x": images})


def test_a_softmax_whose_parts_are_read_elsewhere_stays_spelled_out() -> None:
    b = GraphBuilder(opset=13)
    logits = b.node("Conv", ["x", b.random("w", 4, 3, 1, 1)], name="conv")
    exp = b.node("Exp", [b.node("Sub", [logits, b.node("ReduceMax", [logits], axes=[1], keepdims=1)])])
    out = b.node("Div", [exp, b.node("ReduceSum", [exp, b.ints("axes", [1])], keepdims=1)])
    original = b.build([("x", TensorProto.FLOAT, ["batch", 3, 5, 6])], [out, exp], output_names=["y", "e"])
    spec = import_onnx(original)
    assert not any(layer.HasField("softmax") for layer in spec.network.layers)
    assert_export_matches(original, spec, {"x": image_batch(2, 3, 5, 6)})
