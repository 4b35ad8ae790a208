"""Backprop paths: which layers need differentiable ops, and early refusal of blocked paths."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mlspec import MlspecError
from mlspec._proto import layers_pb2, model_pb2, tensor_pb2
from mlspec.backends.ort_training.forms import ORT_FORMS
from mlspec.convert import backprop_layers, build_graph
from tests.support.specs import add_loss, layer, network, tensor_type

F32 = np.float32
RELU = layers_pb2.ActivationLayer.RELU


def dense(name: str, source: str, n_in: int, n_out: int, *, updatable: bool) -> layers_pb2.Layer:
    sizes: dict[str, Any] = {"input_channels": n_in, "output_channels": n_out, "has_bias": False}
    return layer(
        "inner_product", name, [source], updatable=updatable, weights=np.ones((n_out, n_in), F32), **sizes
    )


def unary(name: str, source: str, op_type: str = "Neg") -> layers_pb2.Layer:
    node = layer("onnx_node", name, [source], op_type=op_type, node_inputs=[source])
    node.onnx_node.output_types.append(tensor_type(["batch", 3]))
    return node


def concat_add_reshape_network() -> model_pb2.Model:
    """fc1 (updatable) -> [concat, add, reshape] -> fc2 (updatable) -> loss; Core ML cannot backprop this."""
    layers = [
        layer("activation", "pre", ["x"], type=RELU),
        dense("fc1", "pre", 4, 4, updatable=True),
        layer("concat", "cat", ["fc1", "x"], axis=1),
        layer("add", "sum", ["cat", "cat"]),
        layer("reshape", "shape", ["sum"], target_shape=[2, 4]),
        layer("flatten", "flat", ["shape"]),
        dense("fc2", "flat", 8, 2, updatable=True),
        layer("activation", "side", ["fc2"], type=RELU),
    ]
    model = network({"x": ["batch", 4]}, layers, outputs=["fc2", "side"])
    add_loss(model, "fc2", ["batch", 2])
    return model


def test_backprop_layers_span_from_updatable_layers_to_the_loss() -> None:
    model = concat_add_reshape_network()
    # "pre" comes before every updatable layer; "side" feeds no loss.
    assert backprop_layers(model) == {"fc1", "cat", "sum", "shape", "flat", "fc2"}
    build = build_graph(model, training=True, forms=ORT_FORMS)
    assert build.trainable == ["fc1.weights", "fc2.weights"]


def test_frozen_generic_node_before_the_updatable_layers_is_allowed() -> None:
    model = network({"x": ["batch", 3]}, [unary("neg", "x"), dense("fc", "neg", 3, 2, updatable=True)])
    add_loss(model, "fc", ["batch", 2])
    assert backprop_layers(model) == {"fc"}
    assert [
        node.op_type for node in build_graph(model, training=True, forms=ORT_FORMS).onnx_model.graph.node
    ] == [
        "Neg",
        "Gemm",
    ]


def test_updatable_layer_behind_a_generic_node_is_refused_naming_both() -> None:
    # Sign has no gradient in onnxruntime-training (Neg, which has one, would pass it).
    layers = [dense("fc", "x", 3, 3, updatable=True), unary("sign", "fc", "Sign")]
    model = network({"x": ["batch", 3]}, layers)
    add_loss(model, "sign", ["batch", 3])
    with pytest.raises(MlspecError) as caught:
        build_graph(model, training=True, forms=ORT_FORMS)
    message = str(caught.value)
    assert 'layers["fc"]' in message and 'layers["sign"] (onnx_node Sign)' in message
    assert build_graph(model, training=False).onnx_model.graph.node  # inference is still fine


def test_updatable_layer_feeding_an_embedding_is_refused() -> None:
    table = layer("embedding", "emb", ["fc"], vocab_size=4, embedding_dim=2, weights=np.ones((4, 2), F32))
    model = network({"x": ["batch", 3]}, [dense("fc", "x", 3, 3, updatable=True), table])
    add_loss(model, "emb", ["batch", 3, 2])
    with pytest.raises(MlspecError, match=r'layers\["fc"\].*layers\["emb"\] \(embedding\)'):
        build_graph(model, training=True, forms=ORT_FORMS)


def test_updatable_embedding_itself_trains() -> None:
    table = layer(
        "embedding",
        "emb",
        ["ids"],
        updatable=True,
        vocab_size=4,
        embedding_dim=2,
        weights=np.ones((4, 2), F32),
    )
    model = network({"ids": ["batch"]}, [table], dtypes={"ids": tensor_pb2.INT64})
    add_loss(model, "emb", ["batch", 2])
    assert build_graph(model, training=True, forms=ORT_FORMS).trainable == ["emb.weights"]


def test_updatable_layer_that_no_loss_reads_is_refused() -> None:
    layers = [dense("fc1", "x", 3, 3, updatable=True), dense("fc2", "x", 3, 3, updatable=True)]
    model = network({"x": ["batch", 3]}, layers, outputs=["fc1", "fc2"])
    add_loss(model, "fc1", ["batch", 3])
    with pytest.raises(MlspecError, match=r'layers\["fc2"\]: updatable, but no loss depends on its outputs'):
        build_graph(model, training=True, forms=ORT_FORMS)
