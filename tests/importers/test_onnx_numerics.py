"""Imported ONNX models compute what the originals compute (onnxruntime on both, 1e-5), through
typed layers wherever mlspec has a kind for the op."""

from __future__ import annotations

import math

import numpy as np
import pytest
from onnx import TensorProto

from mlspec.convert.importers import import_onnx
from tests.importers.onnx_models import (
    EXPORTED_CNN_KINDS,
    GraphBuilder,
    assert_export_matches,
    flatten_via_shape,
    image_batch,
    kinds,
)

FLOAT = TensorProto.FLOAT


def _relu6(b: GraphBuilder, source: str) -> str:
    if b.opset < 11:
        return b.node("Clip", [source], min=0.0, max=6.0)
    low = b.weight(f"{source}_low", np.array(0.0, np.float32))
    high = b.weight(f"{source}_high", np.array(6.0, np.float32))
    return b.node("Clip", [source, low, high])


def _cnn_classifier(opset: int, weights_in_constants: bool) -> GraphBuilder:
    b = GraphBuilder(opset=opset, weights_in_constants=weights_in_constants)
    conv = b.node(
        "Conv",
        ["image", b.random("c1.w", 4, 3, 3, 3), b.random("c1.b", 4)],
        name="/features/0/Conv",
        pads=[1, 1, 1, 1],
        strides=[1, 1],
    )
    norm = b.node(
        "BatchNormalization",
        [conv, b.positive("bn.s", 4), b.random("bn.b", 4), b.random("bn.m", 4), b.positive("bn.v", 4)],
        name="/features/1/BatchNormalization",
        epsilon=1e-3,
    )
    act = _relu6(b, norm)
    pooled = b.node("MaxPool", [act], kernel_shape=[2, 2], strides=[2, 2])
    gap = b.node("GlobalAveragePool", [pooled])
    flat = flatten_via_shape(b, gap)
    logits = b.node(
        "Gemm", [flat, b.random("fc.w", 5, 4), b.random("fc.b", 5)], name="/classifier/Gemm", transB=1
    )
    b.node("Softmax", [logits], name="/Softmax", **({"axis": 1} if opset < 13 else {}))
    return b


@pytest.mark.parametrize(("opset", "in_constants"), [(9, True), (11, False), (13, True), (21, False)])
def test_cnn_classifier_imports_typed_and_matches(opset: int, in_constants: bool) -> None:
    b = _cnn_classifier(opset, in_constants)
    probabilities = b.nodes[-1].output[0]
    original = b.build(
        [("image", FLOAT, ["batch", 3, 8, 8])],
        [probabilities],
        output_names=["probs"],
        output_dims=["batch", 5],
    )
    spec = import_onnx(original, labels=["a", "b", "c", "d", "e"])
    assert kinds(spec) == EXPORTED_CNN_KINDS
    assert [layer.name for layer in spec.network.layers][:2] == [
        "features_0_Conv",
        "features_1_BatchNormalization",
    ]
    assert spec.network.layers[5].reshape.target_shape == [-1]
    assert spec.classifier.predicted_probabilities_name == "probs"
    assert list(spec.classifier.string_labels.values) == ["a", "b", "c", "d", "e"]
    assert [f.name for f in spec.description.inputs] == ["image"]
    actual = assert_export_matches(original, spec, {"image": image_batch(3, 3, 8, 8)})
    winners = np.argmax(actual["probs"], axis=1)
    assert actual[spec.classifier.predicted_feature_name].tolist() == [
        ["a", "b", "c", "d", "e"][i] for i in winners
    ]


@pytest.mark.parametrize("opset", [9, 21])
def test_mlp_gemm_and_matmul_add(opset: int) -> None:
    b = GraphBuilder(opset=opset)
    hidden = b.node("MatMul", ["x", b.random("w1", 6, 8)])
    hidden = b.node("Add", [b.random("b1", 8), hidden])  # torch puts the bias first
    hidden = b.node("Relu", [hidden])
    if opset < 12:  # ratio was an attribute until opset 12
        hidden = b.node("Dropout", [hidden], ratio=0.25)
    else:
        hidden = b.node("Dropout", [hidden, b.weight("ratio", np.array(0.25, np.float32))])
    hidden = b.node("Gemm", [hidden, b.random("w2", 8, 7), b.random("b2", 1, 7)], alpha=0.5, beta=2.0)
    hidden = b.node("LeakyRelu", [hidden], alpha=0.2)
    hidden = b.node("Gemm", [hidden, b.random("w3", 5, 7), b.random("b3", 5)], transB=1)
    hidden = b.node("Tanh", [hidden])
    out = b.node("Sigmoid", [hidden])
    original = b.build([("x", FLOAT, ["N", 6])], [out], output_names=["y"])
    spec = import_onnx(original)
    assert kinds(spec) == [
        "inner_product",
        "activation",
        "dropout",
        "inner_product",
        "activation",
        "inner_product",
        "activation",
        "activation",
    ]
    assert spec.network.layers[2].dropout.rate == pytest.approx(0.25)
    assert not spec.HasField("classifier")
    assert spec.description.inputs[0].type.tensor.shape[0].symbol == "N"
    assert_export_matches(original, spec, {"x": image_batch(4, 6)})


def test_gemm_with_transposed_input_keeps_values() -> None:
    b = GraphBuilder()
    out = b.node("Gemm", ["x", b.random("w", 3, 4)], transA=1)
    original = b.build([("x", FLOAT, [3, 2])], [out])
    spec = import_onnx(original)
    assert kinds(spec) == ["transpose", "inner_product"]
    assert_export_matches(original, spec, {"x": image_batch(3, 2)})


def _squeeze_excite(b: GraphBuilder, source: str, channels: int, hard_swish: str) -> str:
    squeezed = b.node("GlobalAveragePool", [source])
    reduced = b.node(
        "Conv", [squeezed, b.random(f"{source}.se1", 2, channels, 1, 1), b.random(f"{source}.se1b", 2)]
    )
    reduced = b.node("Relu", [reduced])
    expanded = b.node(
        "Conv", [reduced, b.random(f"{source}.se2", channels, 2, 1, 1), b.random(f"{source}.se2b", channels)]
    )
    if hard_swish == "op":
        gate = b.node("HardSigmoid", [expanded], alpha=1 / 6, beta=0.5)
    else:  # F.hardsigmoid spelled out: relu6(x + 3) / 6
        gate = b.node(
            "Div",
            [
                _relu6(b, b.node("Add", [expanded, b.weight(f"{source}.three", np.array(3.0, np.float32))])),
                b.weight(f"{source}.six", np.array(6.0, np.float32)),
            ],
        )
    return b.node("Mul", [source, gate])


def _hard_swish(b: GraphBuilder, source: str) -> str:
    if b.opset >= 14:
        return b.node("HardSwish", [source])
    return b.node("Mul", [source, b.node("HardSigmoid", [source], alpha=1 / 6, beta=0.5)])


@pytest.mark.parametrize(("opset", "gate"), [(9, "op"), (13, "arith"), (21, "op")])
def test_mobilenetv3_block(opset: int, gate: str) -> None:
    b = GraphBuilder(opset=opset)
    expand = b.node("Conv", ["x", b.random("pw", 6, 3, 1, 1)])
    expand = _hard_swish(b, expand)
    depthwise = b.node(
        "Conv", [expand, b.random("dw", 6, 1, 3, 3)], group=6, strides=[2, 2], auto_pad="SAME_UPPER"
    )
    depthwise = _hard_swish(b, depthwise)
    excited = _squeeze_excite(b, depthwise, 6, gate)
    project = b.node("Conv", [excited, b.random("proj", 3, 6, 1, 1), b.random("projb", 3)])
    residual = b.node("Conv", ["x", b.random("skip", 3, 3, 1, 1)], strides=[2, 2])
    out = b.node("Add", [project, residual])
    original = b.build([("x", FLOAT, ["batch", 3, 9, 9])], [out])
    spec = import_onnx(original)
    found = kinds(spec)
    assert "onnx_node" not in found
    activations = [layer.activation for layer in spec.network.layers if layer.HasField("activation")]
    names = {int(a.type) for a in activations}
    swish = 9  # ActivationLayer.HARD_SWISH
    assert sum(1 for a in activations if a.type == swish) == 2
    assert (8 in names) == (gate == "op")  # HARD_SIGMOID gate, or LINEAR/CLIP arithmetic
    assert_export_matches(original, spec, {"x": image_batch(2, 3, 9, 9)})


@pytest.mark.parametrize("opset", [9, 13, 21])
def test_activation_family(opset: int) -> None:
    b = GraphBuilder(opset=opset)
    x = b.node("Elu", ["x"], alpha=0.7)
    x = b.node("Softplus", [x])
    if opset >= 20:
        gelu = b.node("Gelu", [x])
        gelu_tanh = b.node("Gelu", [x], approximate="tanh")
        x = b.node("Add", [gelu, gelu_tanh])
    # torch.nn.GELU below opset 20: x * 0.5 * (1 + erf(x / sqrt(2)))
    scaled = b.node("Div", [x, b.weight("sqrt2", np.array(math.sqrt(2.0), np.float32))])
    plus = b.node("Add", [b.node("Erf", [scaled]), b.weight("one", np.array(1.0, np.float32))])
    x = b.node("Mul", [b.node("Mul", [x, plus]), b.weight("half", np.array(0.5, np.float32))])
    # Hugging Face's gelu: x * 0.5 * (1 + erf(x * (1 / sqrt(2))))
    half = b.node("Mul", [x, b.weight("half2", np.array(0.5, np.float32))])
    scaled = b.node("Mul", [x, b.weight("inv_sqrt2", np.array(1 / math.sqrt(2.0), np.float32))])
    plus = b.node("Add", [b.node("Erf", [scaled]), b.weight("one2", np.array(1.0, np.float32))])
    x = b.node("Mul", [half, plus])
    x = b.node("HardSigmoid", [x], alpha=0.3, beta=0.4)
    if opset < 11:  # bounds were attributes until opset 11
        low_only = b.node("Clip", [x], min=0.0)
        both = b.node("Clip", [low_only], min=-0.2, max=0.3)
    else:
        low_only = b.node("Clip", [x, b.weight("lo", np.array(0.0, np.float32))])
        both = b.node(
            "Clip",
            [
                low_only,
                b.weight("lo2", np.array(-0.2, np.float32)),
                b.weight("hi2", np.array(0.3, np.float32)),
            ],
        )
    out = b.node("Sub", [b.weight("c", np.array(1.5, np.float32)), both])
    original = b.build([("x", FLOAT, ["batch", 10])], [out])
    spec = import_onnx(original)
    assert set(kinds(spec)) <= {"activation", "add"}
    clips = [layer.activation for layer in spec.network.layers if layer.name.startswith("clip")]
    assert [(int(c.type), c.alpha, c.beta) for c in clips] == [
        (1, 0.0, 0.0),
        (11, pytest.approx(-0.2), pytest.approx(0.3)),
    ]
    types = [int(layer.activation.type) for layer in spec.network.layers if layer.HasField("activation")]
    assert types.count(5) == (4 if opset >= 20 else 2)  # GELU, both erf patterns included
    assert_export_matches(original, spec, {"x": image_batch(5, 10) * 3})


@pytest.mark.parametrize("opset", [9, 17, 21])
def test_conv1d_pooling_transpose_flatten_concat(opset: int) -> None:
    b = GraphBuilder(opset=opset)
    conv = b.node("Conv", ["seq", b.random("k", 4, 2, 3), b.random("kb", 4)], dilations=[2], pads=[2, 2])
    avg = b.node("AveragePool", [conv], kernel_shape=[3], pads=[1, 1], strides=[2], count_include_pad=1)
    avg_ex = b.node("AveragePool", [conv], kernel_shape=[3], pads=[1, 1], strides=[2])
    joined = b.node("Concat", [avg, avg_ex], axis=1)
    swapped = b.node("Transpose", [joined], perm=[0, 2, 1])
    flat = b.node("Flatten", [swapped], axis=1)
    gmax = b.node("Flatten", [b.node("GlobalMaxPool", [conv])])
    both = b.node("Concat", [flat, gmax], axis=-1)
    if opset < 12:
        dropped = b.node("Dropout", [both], ratio=0.3)
    else:
        dropped = b.node("Dropout", [both, b.weight("ratio", np.array(0.3, np.float32))])
    reshaped = b.node("Reshape", [dropped, b.ints("tgt", [0, 4, -1])])
    original = b.build([("seq", FLOAT, ["batch", 2, 12])], [reshaped])
    spec = import_onnx(original)
    assert kinds(spec) == [
        "convolution",
        "pooling",
        "pooling",
        "concat",
        "transpose",
        "flatten",
        "pooling",
        "flatten",
        "concat",
        "dropout",
        "reshape",
    ]
    assert spec.network.layers[-1].reshape.target_shape == [4, -1]
    assert spec.network.layers[-2].dropout.rate == pytest.approx(0.3)
    assert_export_matches(original, spec, {"seq": image_batch(3, 2, 12)})


def test_embedding_layer_norm_and_softmax_over_sequence() -> None:
    b = GraphBuilder(opset=17)
    embedded = b.node("Gather", [b.random("table", 11, 6), "ids"], axis=0)
    normed = b.node(
        "LayerNormalization", [embedded, b.positive("ln.g", 6), b.random("ln.b", 6)], axis=-1, epsilon=1e-5
    )
    scores = b.node("Add", [b.node("MatMul", [normed, b.random("proj", 6, 4)]), b.random("proj.b", 4)])
    out = b.node("Softmax", [scores], axis=-1)
    original = b.build([("ids", TensorProto.INT64, ["batch", 5])], [out])
    spec = import_onnx(original)
    assert kinds(spec) == ["embedding", "layer_norm", "inner_product", "softmax"]
    assert not spec.HasField("classifier")  # softmax over [batch, 5, 4] is not a classifier
    ids = np.random.default_rng(3).integers(0, 11, (3, 5)).astype(np.int64)
    assert_export_matches(original, spec, {"ids": ids})


def test_old_softmax_over_a_middle_axis_keeps_its_flattening_meaning() -> None:
    b = GraphBuilder(opset=11)
    out = b.node("Softmax", ["x"], axis=1)  # opset < 13: softmax over axes 1 and 2 together
    original = b.build([("x", FLOAT, ["batch", 3, 4])], [out])
    spec = import_onnx(original)
    assert "softmax" in kinds(spec)
    result = assert_export_matches(original, spec, {"x": image_batch(2, 3, 4)})
    np.testing.assert_allclose(next(iter(result.values())).sum(axis=(1, 2)), 1.0, rtol=1e-5)


def test_unknown_ops_become_frozen_nodes_that_still_run() -> None:
    b = GraphBuilder()
    padded = b.node("Pad", ["x", b.ints("pads", [0, 0, 1, 0, 0, 2])], mode="reflect")
    root = b.node("Sqrt", [b.node("Abs", [padded])])
    mean = b.node("ReduceMean", [root, b.ints("axes", [1])], keepdims=1)
    shifted = b.node("Sub", [root, mean])  # two activations: no typed kind
    scaled = b.node("Mul", [shifted, b.random("gain", 1, 3, 1)])  # per-channel constant
    selected = b.node("Where", [b.weight("mask", np.array([[True], [False], [True]])), scaled, shifted])
    out = b.node("Relu", [selected])
    original = b.build([("x", FLOAT, ["batch", 3, 4])], [out])
    spec = import_onnx(original)
    found = kinds(spec)
    assert found[-1] == "activation"
    assert found.count("onnx_node") >= 6
    ops = [layer.onnx_node.op_type for layer in spec.network.layers if layer.HasField("onnx_node")]
    assert {"Pad", "Sqrt", "Abs", "ReduceMean", "Sub", "Mul", "Where"} <= set(ops)
    pad = next(layer.onnx_node for layer in spec.network.layers if layer.onnx_node.op_type == "Pad")
    assert [constant.name for constant in pad.constants] == ["pads"]
    assert [(d.symbol or d.size) for d in pad.output_types[0].shape] == ["batch", 3, 7]
    assert_export_matches(original, spec, {"x": image_batch(2, 3, 4)})


def test_shape_value_used_by_a_frozen_node_is_computed_at_run_time() -> None:
    b = GraphBuilder()
    shape = b.node("Shape", ["x"])
    batch_and_rows = b.node("Slice", [shape, b.ints("s0", [0]), b.ints("s1", [2])])
    zeros = b.node("ConstantOfShape", [batch_and_rows])
    out = b.node("Add", [b.node("ReduceSum", ["x", b.ints("ax", [2])], keepdims=0), zeros])
    original = b.build([("x", FLOAT, ["batch", 3, 4])], [out])
    spec = import_onnx(original)
    ops = [layer.onnx_node.op_type for layer in spec.network.layers if layer.HasField("onnx_node")]
    assert {"Shape", "Slice", "ConstantOfShape", "ReduceSum"} <= set(ops)
    assert_export_matches(original, spec, {"x": image_batch(5, 3, 4)})


@pytest.mark.parametrize(("opset", "affine"), [(13, True), (18, True), (14, False)])
def test_layer_norm_as_torch_exports_it_below_opset_17(opset: int, affine: bool) -> None:
    b = GraphBuilder(opset=opset)

    def mean(source: str, name: str) -> str:
        if opset >= 18:
            return b.node("ReduceMean", [source, b.ints(f"{name}_axes", [-1])], keepdims=1)
        return b.node("ReduceMean", [source], axes=[-1], keepdims=1)

    x = b.node("Relu", ["x"])
    centred = b.node("Sub", [x, mean(x, "m1")])
    square = b.node("Pow", [centred, b.weight("two", np.array(2.0, np.float32))])
    root = b.node("Sqrt", [b.node("Add", [mean(square, "m2"), b.weight("eps", np.array(1e-5, np.float32))])])
    out = b.node("Div", [centred, root])
    if affine:
        out = b.node("Add", [b.node("Mul", [out, b.positive("gamma", 6)]), b.random("beta", 6)])
    original = b.build([("x", FLOAT, ["batch", 4, 6])], [out])
    spec = import_onnx(original)
    assert kinds(spec) == ["activation", "layer_norm"]
    assert list(spec.network.layers[1].layer_norm.normalized_shape) == [6]
    assert spec.network.layers[1].layer_norm.epsilon == pytest.approx(1e-5)
    assert_export_matches(original, spec, {"x": image_batch(3, 4, 6)})
