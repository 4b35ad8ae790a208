"""Weight rules: shapes against layer attributes, byte counts, dtypes, and layer attributes."""

from __future__ import annotations

import numpy as np
import pytest

from mlspec._proto import layers_pb2, model_pb2, tensor_pb2
from mlspec.spec.validate import find_problems
from mlspec.spec.weights import make_tensor
from tests.support.specs import classifier, tensor_feature, weights

from .helpers import assert_problem


def test_design_example_wrong_weight_count() -> None:
    model = classifier(updatable=False)
    model.network.layers[0].inner_product.weights.CopyFrom(weights(1000))
    problem = assert_problem(model, 'layers["fc1"].weights', "1000 values", "expected 8 x 4 = 32")
    assert "[output_channels, input_channels]" in problem.fix


def test_transposed_weights() -> None:
    model = classifier(updatable=False)
    model.network.layers[0].inner_product.weights.CopyFrom(weights(4, 8))
    assert_problem(model, 'layers["fc1"].weights', "shape [4, 8], expected [8, 4]")


def test_raw_bytes_disagree_with_shape() -> None:
    model = classifier(updatable=False)
    tensor = model.network.layers[0].inner_product.weights
    tensor.raw_data = tensor.raw_data[:-8]
    assert_problem(model, 'layers["fc1"].weights', "120 bytes (30 float32 values)", "32 values (128 bytes)")


def test_missing_bias_and_unexpected_bias() -> None:
    model = classifier(updatable=False)
    model.network.layers[0].inner_product.ClearField("bias")
    assert_problem(model, 'layers["fc1"].bias', "missing")
    model = classifier(updatable=False)
    model.network.layers[0].inner_product.has_bias = False
    assert_problem(model, 'layers["fc1"].bias', "has_bias is false")


def test_integer_weights_refused() -> None:
    model = classifier(updatable=False)
    model.network.layers[0].inner_product.weights.CopyFrom(make_tensor(np.zeros((8, 4), np.int64)))
    assert_problem(model, 'layers["fc1"].weights', "INT64", "not a float")


def test_external_length_checked() -> None:
    model = classifier(updatable=False)
    tensor = model.network.layers[0].inner_product.weights
    tensor.external.location = "weights.bin"
    tensor.external.length = 100
    assert_problem(model, 'layers["fc1"].weights.external', "length 100", "needs 128")


def conv_model(groups: int, weight_shape: tuple[int, ...]) -> model_pb2.Model:
    model = model_pb2.Model(spec_version=1)
    model.description.inputs.append(tensor_feature("x", ["batch", 4, 8, 8]))
    layer = model.network.layers.add(name="conv", inputs=["x"], outputs=["y"])
    conv = layer.convolution
    conv.input_channels, conv.output_channels, conv.groups, conv.has_bias = 4, 6, groups, True
    conv.kernel_shape.extend([3, 3])
    conv.weights.CopyFrom(weights(*weight_shape))
    conv.bias.CopyFrom(weights(6))
    return model


def test_grouped_convolution_weights() -> None:
    assert find_problems(conv_model(2, (6, 2, 3, 3))) == []
    assert_problem(conv_model(2, (6, 4, 3, 3)), 'layers["conv"].weights', "216 values", "6 x 2 x 3 x 3 = 108")


def test_batch_norm_needs_four_channel_vectors() -> None:
    model = model_pb2.Model(spec_version=1)
    model.description.inputs.append(tensor_feature("x", ["batch", 3, 4, 4]))
    layer = model.network.layers.add(name="bn", inputs=["x"], outputs=["y"])
    layer.batch_norm.channels = 3
    for field in ("gamma", "beta", "running_mean"):
        getattr(layer.batch_norm, field).CopyFrom(weights(3))
    layer.batch_norm.running_variance.CopyFrom(weights(4))
    assert_problem(model, 'layers["bn"].running_variance', "4 values", "expected 3 = 3")
    layer.batch_norm.ClearField("running_variance")
    assert_problem(model, 'layers["bn"].running_variance', "missing")


def test_layer_norm_and_embedding_weights() -> None:
    model = model_pb2.Model(spec_version=1)
    model.description.inputs.append(tensor_feature("ids", ["batch", 5], tensor_pb2.INT64))
    emb = model.network.layers.add(name="emb", inputs=["ids"], outputs=["e"]).embedding
    emb.vocab_size, emb.embedding_dim = 10, 4
    emb.weights.CopyFrom(weights(10, 4))
    norm = model.network.layers.add(name="norm", inputs=["e"], outputs=["y"]).layer_norm
    norm.normalized_shape.append(4)
    norm.gamma.CopyFrom(weights(4))
    norm.beta.CopyFrom(weights(4))
    assert find_problems(model) == []
    emb.weights.CopyFrom(weights(4, 10))
    norm.beta.CopyFrom(weights(5))
    wheres = [p.where for p in find_problems(model)]
    assert wheres == ['layers["emb"].weights', 'layers["norm"].beta']


def test_onnx_constant_byte_count() -> None:
    model = classifier(updatable=False)
    node = model.network.layers.add(name="node", inputs=["probs"], outputs=["erf"]).onnx_node
    node.op_type = "Mul"
    constant = node.constants.add(name="scale")
    constant.tensor.CopyFrom(weights(3))
    node.node_inputs.extend(["probs", "scale"])
    assert find_problems(model) == []
    constant.tensor.shape[0] = 4
    assert_problem(model, """layers["node"].onnx_node.constants['scale']""", "12 bytes", "16 bytes")


@pytest.mark.parametrize(
    ("kind", "field", "value"),
    [("dropout", "rate", 1.0), ("dropout", "rate", -0.1), ("batch_norm", "momentum", 1.5)],
)
def test_layer_attributes(kind: str, field: str, value: float) -> None:
    model = classifier(updatable=False)
    layer = layers_pb2.Layer(name="extra", inputs=["a1"], outputs=["extra_out"])
    if kind == "batch_norm":
        layer.batch_norm.channels = 8
        for name in ("gamma", "beta", "running_mean", "running_variance"):
            getattr(layer.batch_norm, name).CopyFrom(weights(8))
    setattr(getattr(layer, kind), field, value)
    model.network.layers.append(layer)
    assert_problem(model, f'layers["extra"].{field}', f"{field} {value:g}")


def test_onnx_node_inputs_name_layer_inputs_or_constants() -> None:
    model = classifier(updatable=False)
    node = model.network.layers.add(name="node", inputs=["probs"], outputs=["scaled"]).onnx_node
    node.op_type = "Mul"
    node.constants.add(name="scale").tensor.CopyFrom(weights(3))
    node.node_inputs.extend(["probs", "scale", ""])
    assert find_problems(model) == []
    node.node_inputs.append("ghost")
    assert_problem(model, 'layers["node"].onnx_node.node_inputs', '"ghost"')
