"""Updatable rules and the backprop-path rule."""

from __future__ import annotations

import numpy as np
import pytest

from mlspec._proto import layers_pb2, model_pb2
from mlspec.spec.kinds import TRAINABLE_KINDS
from mlspec.spec.validate import find_problems
from mlspec.spec.weights import make_tensor, to_numpy
from tests.support.specs import activation, classifier, dense, layer, regressor, tensor_feature, weights

from .helpers import assert_problem


def test_updatable_model_without_updatable_layers() -> None:
    model = classifier()
    for each in model.network.layers:
        each.is_updatable = False
        for field in ("weights", "bias"):
            if each.HasField("inner_product"):
                getattr(each.inner_product, field).is_updatable = False
    assert_problem(model, "is_updatable", "none of its layers")


def test_updatable_model_needs_a_loss_and_an_optimizer() -> None:
    model = classifier()
    model.update_parameters.ClearField("loss_layers")
    model.update_parameters.ClearField("optimizer")
    wheres = {p.where: p.message for p in find_problems(model)}
    assert "loss" in wheres["update_parameters.loss_layers"]
    assert "optimizer" in wheres["update_parameters.optimizer"]
    assert len(wheres) == 2


def test_updatable_layer_in_a_model_that_is_not() -> None:
    model = classifier()
    model.is_updatable = False
    assert_problem(model, "is_updatable", '"fc1", "fc2"')


def test_kind_that_cannot_train() -> None:
    model = classifier()
    model.network.layers[1].is_updatable = True
    problem = assert_problem(model, 'layers["relu1"]', "activation layers have nothing to train")
    assert all(kind in problem.message for kind in TRAINABLE_KINDS)


def test_updatable_layer_without_flagged_tensors() -> None:
    model = classifier()
    fc1 = model.network.layers[0].inner_product
    fc1.weights.is_updatable = fc1.bias.is_updatable = False
    assert_problem(model, 'layers["fc1"]', "none of its tensors (weights, bias) is flagged")


def test_flagged_tensor_in_frozen_layer() -> None:
    model = classifier()
    model.network.layers[0].is_updatable = False
    model.network.layers[0].inner_product.bias.is_updatable = False
    assert_problem(model, 'layers["fc1"].weights', "layer is not updatable")


def test_running_statistics_are_never_flagged() -> None:
    model = classifier()
    layer = layers_pb2.Layer(name="bn", inputs=["a1"], outputs=["bn_out"], is_updatable=True)
    layer.batch_norm.channels = 8
    for field in ("gamma", "beta", "running_mean", "running_variance"):
        getattr(layer.batch_norm, field).CopyFrom(weights(8, updatable=True))
    layer.batch_norm.running_variance.is_updatable = False
    model.network.layers.insert(2, layer)
    model.network.layers[3].inputs[0] = "bn_out"
    problem = assert_problem(model, 'layers["bn"].running_mean', "only trains gamma, beta")
    assert "running statistics" in problem.message


# ---- backprop paths ------------------------------------------------------------------------------


def two_branch_model(joiner: str) -> model_pb2.Model:
    """x -> fc_a (updatable) and x -> fc_b (frozen), joined by `joiner`, then MSE on the result."""
    model = regressor()
    del model.network.layers[:]
    model.network.layers.extend(
        [
            dense("fc_a", "x", "a", 4, 2, updatable=True),
            dense("fc_b", "x", "b", 4, 2),
            layer(joiner, "join", ["a", "b"], outputs=["joined"]),
        ]
    )
    if joiner == "concat":
        model.network.layers.append(dense("head", "joined", "y", 4, 2))
    else:
        model.network.layers.append(activation("head", "joined", "y", "TANH"))
    return model


@pytest.mark.parametrize("joiner", ["concat", "add", "multiply"])
def test_gradients_pass_joining_layers(joiner: str) -> None:
    assert find_problems(two_branch_model(joiner)) == []


def test_gradients_pass_reshape_flatten_dropout_transpose() -> None:
    model = regressor()
    model.network.layers[0].outputs[0] = "h"
    reshape = layer("reshape", "reshape", ["h"], outputs=["t0"])
    reshape.reshape.target_shape.extend([2, 1])
    transpose = layer("transpose", "transpose", ["t0"], outputs=["t1"])
    transpose.transpose.perm.extend([0, 2, 1])
    dropout = layer("dropout", "dropout", ["t1"], outputs=["t2"])
    dropout.dropout.rate = 0.1
    model.network.layers.extend(
        [reshape, transpose, dropout, layer("flatten", "flatten", ["t2"], outputs=["y"])]
    )
    assert find_problems(model) == []


def test_generic_node_between_loss_and_updatable_layer_blocks() -> None:
    model = regressor()
    model.network.layers[0].outputs[0] = "h"
    node = model.network.layers.add(name="frozen", inputs=["h"], outputs=["y"]).onnx_node
    node.op_type = "Round"  # no backend has its gradient
    node.node_inputs.append("h")
    problem = assert_problem(model, 'layers["fc"]', 'blocked by layers["frozen"] (onnx_node Round)')
    assert "passes no gradient" in problem.message
    assert "make-updatable --layers" in problem.fix and "--loss-input" in problem.fix


@pytest.mark.parametrize("op", ["Erf", "HardSwish"])  # every backend / only the portable one
def test_generic_node_of_a_differentiable_op_passes_gradients(op: str) -> None:
    model = regressor()
    model.network.layers[0].outputs[0] = "h"
    glue = model.network.layers.add(name="glue", inputs=["h"], outputs=["y"]).onnx_node
    glue.op_type = op
    glue.node_inputs.append("h")
    assert find_problems(model) == []


def test_generic_node_on_a_side_branch_does_not_block() -> None:
    model = two_branch_model("add")
    side = model.network.layers.add(name="side", inputs=["a"], outputs=["side_out"]).onnx_node
    side.op_type = "Erf"
    side.node_inputs.append("a")
    assert find_problems(model) == []


def test_embedding_input_passes_no_gradient() -> None:
    """An updatable layer whose output is only used as embedding ids gets no gradient."""
    model = model_pb2.Model(spec_version=1, is_updatable=True)
    model.description.inputs.append(tensor_feature("x", ["batch", 4]))
    model.description.training_inputs.append(tensor_feature("y_true", ["batch", 3]))
    model.network.layers.append(dense("fc", "x", "h", 4, 3, updatable=True))
    emb = model.network.layers.add(name="emb", inputs=["h"], outputs=["y"])
    emb.embedding.vocab_size, emb.embedding.embedding_dim = 5, 3
    emb.embedding.weights.CopyFrom(weights(5, 3))
    loss = model.update_parameters.loss_layers.add(name="mse", input="y", target="y_true")
    loss.mean_squared_error.SetInParent()
    problems = [p for p in find_problems(model) if p.where == 'layers["fc"]']
    assert len(problems) == 1 and 'blocked by layers["emb"] (embedding)' in problems[0].message


def test_updatable_layer_no_loss_depends_on() -> None:
    model = regressor()
    model.network.layers.append(dense("orphan", "x", "unused", 4, 2, updatable=True))
    assert_problem(model, 'layers["orphan"]', "no loss depends on its output")


def test_trained_weights_are_float32() -> None:
    model = classifier()
    fc1 = model.network.layers[0].inner_product
    fc1.weights.CopyFrom(make_tensor(to_numpy(fc1.weights).astype(np.float16), is_updatable=True))
    assert_problem(model, 'layers["fc1"].weights', "FLOAT16", "float32")
    fc1.weights.is_updatable = False
    assert find_problems(model) == []  # frozen float16 weights are fine
