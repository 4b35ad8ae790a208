"""The converter graph contract (docs/ARCHITECTURE.md): names, registry, classifier outputs, dtypes."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import pytest

from mlspec import MlspecError
from mlspec._proto import layers_pb2, model_pb2, tensor_pb2
from mlspec.backends.ort_training.forms import ORT_FORMS
from mlspec.convert import build_graph, to_onnx
from mlspec.convert.emitters import EMITTERS
from mlspec.reference import evaluate
from mlspec.spec.kinds import KINDS
from tests.convert.forward_check import assert_forward_matches, check_contract, run_onnx
from tests.support.specs import add_loss, layer, network, padding, tensor_feature

F32 = np.float32


def test_registry_covers_every_kind_of_the_catalogue() -> None:
    assert set(EMITTERS) == set(KINDS)


def test_layer_without_a_kind_is_refused_with_the_supported_kinds() -> None:
    model = network({"x": ["batch", 2]}, [layers_pb2.Layer(name="mystery", inputs=["x"], outputs=["y"])])
    with pytest.raises(MlspecError) as caught:
        to_onnx(model)
    message = str(caught.value)
    assert 'layers["mystery"]' in message
    assert all(kind in message for kind in KINDS)


def bnns_classifier(labels: list[str] | list[int] | None, rng: np.random.Generator) -> model_pb2.Model:
    """conv -> batch norm -> relu -> max pool -> flatten -> dense -> softmax, as in Apple's BNNS sample."""
    conv: dict[str, Any] = {
        "input_channels": 1,
        "output_channels": 4,
        "kernel_shape": [3, 3],
        "has_bias": True,
    }
    conv["padding"] = padding("same")
    conv["weights"] = rng.normal(size=(4, 1, 3, 3)).astype(F32)
    conv["bias"] = rng.normal(size=4).astype(F32)
    norm: dict[str, Any] = {"channels": 4, "epsilon": 1e-5, "momentum": 0.9}
    norm.update(gamma=rng.normal(size=4), beta=rng.normal(size=4), running_mean=rng.normal(size=4))
    norm = {k: v.astype(F32) if isinstance(v, np.ndarray) else v for k, v in norm.items()}
    norm["running_variance"] = rng.uniform(0.5, 2, size=4).astype(F32)
    dense: dict[str, Any] = {"input_channels": 36, "output_channels": 3, "has_bias": True}
    dense.update(weights=rng.normal(size=(3, 36)).astype(F32), bias=rng.normal(size=3).astype(F32))
    layers = [
        layer("convolution", "conv", ["image"], updatable=True, **conv),
        layer("batch_norm", "bn", ["conv"], updatable=True, **norm),
        layer("activation", "relu", ["bn"], type=layers_pb2.ActivationLayer.RELU),
        layer(
            "pooling", "pool", ["relu"], type=layers_pb2.PoolingLayer.MAX, kernel_shape=[2, 2], strides=[2, 2]
        ),
        layer("flatten", "flat", ["pool"]),
        layer("inner_product", "fc", ["flat"], updatable=True, **dense),
        layer("softmax", "softmax", ["fc"], outputs=["probabilities"]),
    ]
    model = network({"image": ["batch", 1, 6, 6]}, layers, outputs=["probabilities"])
    model.description.outputs[0].CopyFrom(tensor_feature("probabilities", ["batch", 3]))
    model.classifier.predicted_probabilities_name = "probabilities"
    model.classifier.predicted_feature_name = "label"
    for label in labels or []:
        if isinstance(label, str):
            model.classifier.string_labels.values.append(label)
        else:
            model.classifier.int64_labels.values.append(label)
    return model


@pytest.mark.parametrize(
    ("labels", "label_type"),
    [
        (["cat", "dog", "bird"], onnx.TensorProto.STRING),
        ([10, 20, 30], onnx.TensorProto.INT64),
        (None, onnx.TensorProto.INT64),
    ],
)
def test_classifier_outputs_probabilities_and_label(labels: Any, label_type: int) -> None:
    rng = np.random.default_rng(0)
    model = bnns_classifier(labels, rng)
    emitted = to_onnx(model)
    outputs = {output.name: output.type.tensor_type for output in emitted.graph.output}
    assert list(outputs) == ["probabilities", "label"]
    probabilities = outputs["probabilities"]
    assert probabilities.elem_type == onnx.TensorProto.FLOAT
    assert [d.dim_param or d.dim_value for d in probabilities.shape.dim] == ["batch", 3]
    assert outputs["label"].elem_type == label_type

    image = rng.normal(size=(8, 1, 6, 6)).astype(F32)
    got = assert_forward_matches(model, {"image": image}, emitted)
    winners = got["probabilities"].argmax(axis=1)
    expected_labels = [labels[i] for i in winners] if labels else winners.tolist()
    assert got["label"].tolist() == expected_labels
    np.testing.assert_allclose(got["probabilities"].sum(axis=1), 1, rtol=1e-5)


def test_training_graph_has_no_label_and_maps_probabilities_to_logits() -> None:
    model = bnns_classifier(["a", "b", "c"], np.random.default_rng(1))
    add_loss(model, "probabilities", ["batch", 3])
    build = build_graph(model, training=True, forms=ORT_FORMS)
    assert [output.name for output in build.onnx_model.graph.output] == ["probabilities"]
    assert build.logits_of == {"probabilities": "fc"}
    assert build.trainable == ["conv.weights", "conv.bias", "bn.gamma", "bn.beta", "fc.weights", "fc.bias"]
    assert not any(node.op_type in ("ArgMax", "Gather") for node in build.onnx_model.graph.node)
    onnx.checker.check_model(build.onnx_model, full_check=True)


def test_initializers_are_named_layer_dot_field_and_only_flagged_tensors_train() -> None:
    rng = np.random.default_rng(2)
    sizes: dict[str, Any] = {"input_channels": 3, "output_channels": 2, "has_bias": True}
    fc = layer(
        "inner_product",
        "fc",
        ["x"],
        updatable=True,
        weights=rng.normal(size=(2, 3)),
        bias=np.zeros(2),
        **sizes,
    )
    fc.inner_product.bias.is_updatable = False
    model = network({"x": ["batch", 3]}, [fc])
    add_loss(model, "fc", ["batch", 2])
    build = build_graph(model, training=True, forms=ORT_FORMS)
    names = {init.name for init in build.onnx_model.graph.initializer}
    assert names == {"fc.weights", "fc.bias"}
    assert build.trainable == ["fc.weights"]
    assert [i.name for i in build.onnx_model.graph.input] == ["x"]


def test_float16_and_double_weights_become_float32_initializers() -> None:
    rng = np.random.default_rng(3)
    sizes: dict[str, Any] = {"input_channels": 4, "output_channels": 3, "has_bias": True}
    weights, bias = rng.normal(size=(3, 4)).astype(np.float16), rng.normal(size=3).astype(np.float64)
    model = network(
        {"x": ["batch", 4]}, [layer("inner_product", "fc", ["x"], weights=weights, bias=bias, **sizes)]
    )
    emitted = to_onnx(model)
    assert {init.data_type for init in emitted.graph.initializer} == {onnx.TensorProto.FLOAT}
    assert emitted.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert_forward_matches(model, {"x": rng.normal(size=(2, 4)).astype(F32)}, emitted)


def test_metadata_reaches_the_onnx_model() -> None:
    model = network(
        {"x": ["batch", 2]}, [layer("activation", "relu", ["x"], type=layers_pb2.ActivationLayer.RELU)]
    )
    model.metadata.author, model.metadata.license, model.metadata.version = "Ada", "MIT", "3"
    model.metadata.short_description = "relu"
    model.metadata.user_defined["origin"] = "test"
    emitted = to_onnx(model)
    props = {p.key: p.value for p in emitted.metadata_props}
    assert props == {"author": "Ada", "license": "MIT", "version": "3", "origin": "test"}
    assert emitted.doc_string == "relu" and emitted.model_version == 3 and emitted.producer_name == "mlspec"


def test_generic_node_in_an_unknown_domain_is_refused() -> None:
    node = layer("onnx_node", "custom", ["x"], op_type="Frobnicate", domain="com.example", node_inputs=["x"])
    model = network({"x": ["batch", 2]}, [node])
    with pytest.raises(MlspecError, match=r'layers\["custom"\].onnx_node.domain.*ai.onnx.ml'):
        to_onnx(model)


def test_dilated_same_padding_over_unknown_sizes_is_refused_naming_the_layer() -> None:
    fields: dict[str, Any] = {
        "input_channels": 1,
        "output_channels": 1,
        "kernel_shape": [3],
        "has_bias": False,
    }
    fields.update(strides=[2], dilations=[2], padding=padding("same"), weights=np.ones((1, 1, 3), dtype=F32))
    model = network({"x": ["batch", 1, "length"]}, [layer("convolution", "conv", ["x"], **fields)])
    with pytest.raises(MlspecError, match=r'layers\["conv"\].*fixed spatial'):
        to_onnx(model)


def test_output_not_produced_is_refused() -> None:
    model = network(
        {"x": ["batch", 2]}, [layer("activation", "relu", ["x"], type=layers_pb2.ActivationLayer.RELU)]
    )
    model.description.outputs.append(tensor_feature("ghost", ["batch", 2]))
    with pytest.raises(MlspecError, match=r'outputs\["ghost"\]: not produced'):
        to_onnx(model)


def test_int64_inputs_and_symbolic_batch_are_kept() -> None:
    table = layer("embedding", "emb", ["ids"], vocab_size=5, embedding_dim=2, weights=np.eye(5, 2, dtype=F32))
    model = network({"ids": ["batch"]}, [table], dtypes={"ids": tensor_pb2.INT64})
    emitted = to_onnx(model)
    check_contract(emitted, model)
    (graph_input,) = emitted.graph.input
    assert graph_input.type.tensor_type.elem_type == onnx.TensorProto.INT64
    assert graph_input.type.tensor_type.shape.dim[0].dim_param == "batch"
    ids = np.array([4, 0, 1], dtype=np.int64)
    got = run_onnx(emitted, {"ids": ids})
    np.testing.assert_array_equal(got["emb"], evaluate(model, {"ids": ids})["emb"])


@pytest.mark.parametrize(("axis", "recorded"), [(0, True), (-1, True), (2, True), (1, False), (-2, False)])
def test_logits_are_recorded_only_for_a_softmax_over_the_last_axis(axis: int, recorded: bool) -> None:
    model = network({"x": ["batch", 3, 4]}, [layer("softmax", "sm", ["x"], axis=axis)])
    assert build_graph(model, training=False).logits_of == ({"sm": "x"} if recorded else {})


def test_float16_input_is_refused_naming_the_input() -> None:
    model = network(
        {"x": ["batch", 2]},
        [layer("activation", "relu", ["x"], type=layers_pb2.ActivationLayer.RELU)],
        dtypes={"x": tensor_pb2.FLOAT16},
    )
    with pytest.raises(MlspecError, match=r'inputs\["x"\]: dtype FLOAT16 is not supported.*FLOAT32'):
        to_onnx(model)
