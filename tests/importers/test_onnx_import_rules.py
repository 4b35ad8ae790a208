"""Names, descriptions, classifiers, refusals and round trips of ONNX import."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from mlspec import MlspecError
from mlspec.builder import NetworkBuilder
from mlspec.convert import to_onnx
from mlspec.convert.importers import OnnxImportError, import_onnx
from mlspec.spec import kinds as kinds_module
from mlspec.spec.graph import class_labels
from mlspec.spec.validate import find_problems
from mlspec.spec.weights import to_numpy
from tests.importers.onnx_models import GraphBuilder, assert_export_matches, image_batch, kinds, run_onnx

FLOAT = TensorProto.FLOAT


def _small_classifier(metadata: dict[str, str] | None = None, classes: int = 3) -> onnx.ModelProto:
    b = GraphBuilder()
    hidden = b.node("Relu", [b.node("Gemm", ["x", b.random("w", classes, 4)], name="fc.1/Gemm", transB=1)])
    probs = b.node("Softmax", [b.node("Identity", [b.node("Identity", [hidden])])], name="fc.1/Gemm")
    return b.build([("x", FLOAT, ["batch", 4])], [probs], output_names=["probabilities"], metadata=metadata)


def test_imported_classifier_is_a_valid_spec_with_preserved_names() -> None:
    spec = import_onnx(_small_classifier())
    assert find_problems(spec) == []
    assert kinds(spec) == ["inner_product", "activation", "softmax"]  # the Identity chain is gone
    names = [layer.name for layer in spec.network.layers]
    assert names == ["fc_1_Gemm", "relu", "fc_1_Gemm_1"]  # sanitised, unique, op type when unnamed
    assert spec.network.layers[-1].outputs == ["probabilities"]
    assert class_labels(spec) == ["0", "1", "2"]
    assert spec.classifier.predicted_feature_name == "label"
    outputs = {f.name: f.type.WhichOneof("kind") for f in spec.description.outputs}
    assert outputs == {"probabilities": "tensor", "label": "string_type"}
    assert spec.description.inputs[0].type.tensor.shape[0].symbol == "batch"


@pytest.mark.parametrize(
    ("metadata", "expected"),
    [('["cat", "dog", "bird"]', ["cat", "dog", "bird"]), ("cat, dog ,bird", ["cat", "dog", "bird"])],
)
def test_labels_come_from_metadata(metadata: str, expected: list[str]) -> None:
    spec = import_onnx(_small_classifier({"class_labels": metadata, "author": "someone"}))
    assert class_labels(spec) == expected
    assert spec.metadata.user_defined["author"] == "someone"
    assert "class_labels" not in spec.metadata.user_defined


def test_labels_argument_wins_and_must_match_the_class_count() -> None:
    model = _small_classifier({"class_labels": "a,b,c"})
    assert class_labels(import_onnx(model, labels=["x", "y", "z"])) == ["x", "y", "z"]
    with pytest.raises(OnnxImportError, match="lists 2 labels, but the softmax yields 3 classes"):
        import_onnx(model, labels=["x", "y"])


def test_labels_for_a_model_without_softmax_or_logits_are_refused() -> None:
    """A feature map [batch, 3, 2, 2] is neither probabilities nor [batch, classes] logits."""
    b = GraphBuilder()
    out = b.node("Relu", [b.node("Conv", ["x", b.random("w", 3, 4, 1, 1)])])
    with pytest.raises(OnnxImportError, match=r"no graph output is a Softmax.*logits"):
        import_onnx(b.build([("x", FLOAT, ["batch", 4, 2, 2])], [out]), labels=["a", "b", "c"])


def test_tf2onnx_style_nhwc_input_and_squeeze_stay_typed() -> None:
    b = GraphBuilder(opset=13)
    nchw = b.node("Transpose", ["input_1"], perm=[0, 3, 1, 2])
    conv = b.node("Relu", [b.node("Conv", [nchw, b.random("k", 4, 3, 3, 3)], auto_pad="VALID")])
    pooled = b.node("GlobalAveragePool", [conv])
    squeezed = b.node("Squeeze", [pooled, b.ints("axes", [2, 3])])
    dense = b.node("Add", [b.node("MatMul", [squeezed, b.random("w", 4, 2)]), b.random("bias", 2)])
    model = b.build(
        [("input_1", FLOAT, ["unk__6", 5, 5, 3])], [b.node("Softmax", [dense])], output_names=["dense"]
    )
    spec = import_onnx(model)
    assert kinds(spec) == [
        "transpose",
        "convolution",
        "activation",
        "pooling",
        "reshape",
        "inner_product",
        "softmax",
    ]
    assert list(spec.network.layers[4].reshape.target_shape) == [4]
    assert spec.description.inputs[0].type.tensor.shape[0].symbol == "unk__6"
    assert_export_matches(model, spec, {"input_1": image_batch(2, 5, 5, 3)})


def test_round_trip_through_export_keeps_outputs_labels_and_kinds() -> None:
    builder = NetworkBuilder(class_labels=["no", "yes"])
    builder.add_input("features", [5])
    builder.add_inner_product("hidden", "features", 6)
    builder.add_activation("act", "hidden", "tanh")
    builder.add_inner_product("logits", "act", 2)
    builder.add_softmax("probs", "logits")
    spec = builder.spec
    exported = to_onnx(spec)
    again = import_onnx(exported)
    assert kinds(again) == kinds(spec)
    assert class_labels(again) == ["no", "yes"]
    assert again.classifier.predicted_feature_name == spec.classifier.predicted_feature_name
    assert again.classifier.predicted_probabilities_name == spec.classifier.predicted_probabilities_name
    assert find_problems(again) == []
    feeds = {"features": image_batch(4, 5)}
    assert_export_matches(exported, again, feeds)
    np.testing.assert_array_equal(
        to_numpy(again.network.layers[0].inner_product.weights),
        to_numpy(spec.network.layers[0].inner_product.weights),
    )


def test_imported_file_path_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "model.onnx"
    onnx.save(_small_classifier(), str(path))
    assert kinds(import_onnx(path)) == ["inner_product", "activation", "softmax"]
    with pytest.raises(OnnxImportError, match="no such ONNX file"):
        import_onnx(tmp_path / "missing.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"\xff\x00 not a model")
    with pytest.raises(MlspecError, match=r"junk\.onnx"):
        import_onnx(tmp_path / "junk.onnx")


def test_float64_inputs_are_refused_naming_the_input() -> None:
    graph = helper.make_graph(
        [helper.make_node("Relu", ["wide"], ["y"])],
        "g",
        [helper.make_tensor_value_info("wide", TensorProto.DOUBLE, ["batch", 3])],
        [helper.make_tensor_value_info("y", TensorProto.DOUBLE, ["batch", 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    with pytest.raises(OnnxImportError, match=r'input "wide" is DOUBLE.*re-export .* as float32'):
        import_onnx(model)


@pytest.mark.parametrize("opset", [8, 22])
def test_opsets_outside_9_to_21_are_refused(opset: int) -> None:
    graph = helper.make_graph(
        [helper.make_node("Relu", ["x"], ["y"])],
        "g",
        [helper.make_tensor_value_info("x", FLOAT, ["batch", 3])],
        [helper.make_tensor_value_info("y", FLOAT, ["batch", 3])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    with pytest.raises(OnnxImportError, match=r"opset .* \(9 to 21\)"):
        import_onnx(model)


def test_float16_weights_are_upcast_and_fixed_batch_reshape_keeps_the_batch() -> None:
    b = GraphBuilder(opset=13)
    half = b.weight("w16", (np.arange(12, dtype=np.float16).reshape(3, 4) / 8))
    wide = b.node("Cast", [half], to=TensorProto.FLOAT)
    dense = b.node("MatMul", ["x", wide])
    flat = b.node("Reshape", [dense, b.ints("target", [1, -1])])
    model = b.build([("x", FLOAT, [1, 2, 3])], [flat])
    spec = import_onnx(model)
    assert kinds(spec) == ["inner_product", "reshape"]
    weights = spec.network.layers[0].inner_product.weights
    assert weights.dtype == 1  # FLOAT32
    assert list(spec.network.layers[1].reshape.target_shape) == [-1]
    assert spec.description.inputs[0].type.tensor.shape[0].size == 1
    assert_export_matches(model, spec, {"x": image_batch(1, 2, 3)})


def test_label_output_written_by_an_exporter_becomes_the_predicted_feature() -> None:
    b = GraphBuilder()
    probs = b.node("Softmax", [b.node("Gemm", ["x", b.random("w", 3, 2)], transB=1)])
    winner = b.node("ArgMax", [probs], axis=1, keepdims=0)
    table = b.weight("names", np.array(["red", "green", "blue"], dtype=object))
    label = b.node("Gather", [table, winner], axis=0)
    model = b.build([("x", FLOAT, ["batch", 2])], [probs, label], output_names=["scores", "colour"])
    spec = import_onnx(model)
    assert kinds(spec) == ["inner_product", "softmax"]
    assert spec.classifier.predicted_feature_name == "colour"
    assert class_labels(spec) == ["red", "green", "blue"]
    result = assert_export_matches(model, spec, {"x": image_batch(6, 2)})
    assert set(run_onnx(model, {"x": image_batch(6, 2)})) == {"scores", "colour"} <= set(result)


def test_round_trip_of_every_kind_keeps_kinds_values_and_outputs() -> None:
    builder = NetworkBuilder(mode="plain")
    builder.add_input("image", [3, 6, 6])
    builder.add_input("ids", [4], dtype="int64")
    builder.add_convolution("conv", "image", 4, (3, 3), padding="same", groups=1)
    builder.add_batch_norm("bn", "conv")
    builder.add_activation("act", "bn", "hard_swish")
    builder.add_pooling("pool", "act", "average", (2, 2), strides=(2, 2), count_include_pad=True)
    builder.add_global_pooling("gmp", "pool", "max")
    builder.add_flatten("flat", "gmp")
    builder.add_embedding("embed", "ids", vocab_size=7, embedding_dim=4)
    builder.add_layer_norm("norm", "embed")
    builder.add_transpose("swap", "norm", (0, 2, 1))
    builder.add_reshape("rows", "swap", (16,))
    builder.add_dropout("drop", "rows", rate=0.2)
    builder.add_concat("joined", ["flat", "drop"], axis=1)
    builder.add_inner_product("dense", "joined", 5)
    builder.add_multiply("gated", ["dense", "dense"])
    builder.add_add("summed", ["gated", "dense"])
    builder.add_softmax("probs", "summed")
    spec = builder.spec
    exported = to_onnx(spec)
    again = import_onnx(exported)
    assert not again.HasField("classifier")  # mlspec wrote no label output: not a classifier
    # The inference export runs dropout as the identity it is there, so no dropout comes back.
    assert kinds(again) == [kind for kind in kinds(spec) if kind != "dropout"]
    assert [f.name for f in again.description.inputs] == ["image", "ids"]
    assert [f.name for f in again.description.outputs] == [f.name for f in spec.description.outputs]
    kept = [layer for layer in spec.network.layers if not layer.HasField("dropout")]
    compared = []
    for ours, theirs in zip(again.network.layers, kept, strict=True):
        assert ours.name == theirs.name
        for field, tensor in kinds_module.layer_tensors(ours):
            np.testing.assert_array_equal(
                to_numpy(tensor), to_numpy(getattr(kinds_module.kind_message(theirs), field))
            )
            compared.append(f"{ours.name}.{field}")
    assert {"conv.weights", "bn.running_variance", "embed.weights", "norm.beta", "dense.bias"} <= set(
        compared
    )
    ids = np.random.default_rng(0).integers(0, 7, (3, 4)).astype(np.int64)
    assert_export_matches(exported, again, {"image": image_batch(3, 3, 6, 6), "ids": ids})


def test_initializers_listed_as_inputs_and_weights_behind_identity() -> None:
    """torch.onnx.export(keep_initializers_as_inputs=True) at opset 11, with a tied weight behind an
    Identity node, as torch writes shared parameters."""
    b = GraphBuilder(opset=11)
    shared = b.node("Identity", [b.random("w", 4, 4)])
    first = b.node("Gemm", ["x", "w"], transB=1)
    out = b.node("Gemm", [b.node("Relu", [first]), shared], transB=1)
    model = b.build([("x", FLOAT, ["batch", 4])], [out])
    model.graph.input.extend(
        helper.make_tensor_value_info(i.name, FLOAT, list(i.dims)) for i in model.graph.initializer
    )
    spec = import_onnx(model)
    assert [f.name for f in spec.description.inputs] == ["x"]
    assert kinds(spec) == ["inner_product", "activation", "inner_product"]
    assert_export_matches(model, spec, {"x": image_batch(3, 4)})


def test_lenet_style_view_minus_one_keeps_the_batch() -> None:
    """x.view(-1, 16 * 2 * 2) exports as Reshape to the constant [-1, 64]."""
    b = GraphBuilder(opset=11)
    pooled = b.node(
        "MaxPool", [b.node("Conv", ["x", b.random("k", 16, 1, 3, 3)])], kernel_shape=[2, 2], strides=[2, 2]
    )
    flat = b.node("Reshape", [pooled, b.ints("shape", [-1, 64])])
    out = b.node("Gemm", [flat, b.random("w", 10, 64), b.random("b", 10)], transB=1)
    model = b.build([("x", FLOAT, ["batch", 1, 6, 6])], [out])
    spec = import_onnx(model)
    assert kinds(spec) == ["convolution", "pooling", "reshape", "inner_product"]
    assert list(spec.network.layers[2].reshape.target_shape) == [64]
    assert_export_matches(model, spec, {"x": image_batch(5, 1, 6, 6)})
