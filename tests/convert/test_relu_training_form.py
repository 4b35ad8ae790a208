"""(Leaky) ReLU on a training path is x times a slope made from Cast(x > 0): ORT's CPU kernels
ReluGrad, LeakyRelu and LeakyReluGrad are slow.

The rewrite must be invisible in the numbers: the gradient ORT derives from it has to be
ReluGrad's or LeakyReluGrad's, including the slope used where the pre-activation is exactly
zero (a finite difference there would see the mean of both slopes, so the reference here is the
hand-written chain rule). The training graph must not fall back to the slow kernels, or the
speed-up is lost. A ReLU read only by a max pool moves behind it, which must not change values
or gradients either.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest

from mlspec._proto import layers_pb2, model_pb2
from mlspec.backends import to_training_artifacts
from mlspec.backends.ort_training.forms import ORT_FORMS
from mlspec.backends.ort_training.session import TrainingSession
from mlspec.convert import build_graph
from mlspec.convert.emitters.activation import restore_relu_nodes
from tests.convert.forward_check import run_onnx
from tests.convert.test_graph_rewrite_gradients import assert_gradients_match, trainable_model
from tests.support.optim_reference import mse_gradient
from tests.support.specs import layer, padding, tensor_feature

F32 = np.float32
ActivationType = layers_pb2.ActivationLayer.ActivationType
SLOW_KERNELS = {"Relu", "ReluGrad", "LeakyRelu", "LeakyReluGrad"}
# Activation kind and its slope for non-positive inputs.
KINDS = {"RELU": 0.0, "LEAKY_RELU": 0.15}


def relu_after_dense(
    weights: np.ndarray, bias: np.ndarray, kind: str = "RELU", alpha: float = 0.0
) -> model_pb2.Model:
    sizes: dict[str, Any] = {"input_channels": weights.shape[1], "output_channels": weights.shape[0]}
    fc = layer(
        "inner_product", "fc", ["x"], updatable=True, has_bias=True, weights=weights, bias=bias, **sizes
    )
    act = layer("activation", "act", ["fc"], type=ActivationType.Value(kind), alpha=alpha)
    return trainable_model([fc, act], [weights.shape[1]], [weights.shape[0]])


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_gradient_is_the_kernels_including_exact_zeros(kind: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    weights = rng.normal(size=(4, 3)).astype(F32)
    bias = rng.normal(size=4).astype(F32)
    weights[1], bias[1] = 0.0, 0.0  # unit 1's pre-activation is exactly 0 for every sample
    alpha = KINDS[kind]
    model = relu_after_dense(weights, bias, kind, alpha)
    to_training_artifacts(model, tmp_path / "artifacts")
    training = onnx.load(tmp_path / "artifacts" / "training_model.onnx")
    assert not SLOW_KERNELS & {node.op_type for node in training.graph.node}

    x = rng.normal(size=(4, 3)).astype(F32)
    target = rng.normal(size=(4, 4)).astype(F32)
    session = TrainingSession(tmp_path / "artifacts")
    session.learning_rate = 0.0
    loss = session.train_step({"x": x, "act_target": target})
    gradients = session.gradients()

    pre = x.astype(np.float64) @ weights.T.astype(np.float64) + bias
    assert np.all(pre[:, 1] == 0.0)
    slope = np.where(pre > 0.0, 1.0, alpha)  # the kernels' slope: alpha where x <= 0
    out = pre * slope
    d_pre = mse_gradient(out, target) * slope
    np.testing.assert_allclose(loss, np.mean((out - target) ** 2), rtol=1e-5)
    np.testing.assert_allclose(gradients["fc.weights"], d_pre.T @ x, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(gradients["fc.bias"], d_pre.sum(axis=0), rtol=1e-5, atol=1e-7)
    zero_unit = alpha * mse_gradient(np.zeros_like(out), target)[:, 1]  # slope alpha at x == 0 exactly
    np.testing.assert_allclose(gradients["fc.bias"][1], zero_unit.sum(), rtol=1e-5, atol=1e-9)


def test_inference_graph_keeps_the_single_relu_node() -> None:
    """Only the gradient is slow, so inference keeps the one fast forward op."""
    model = relu_after_dense(np.ones((2, 3), F32), np.zeros(2, F32))
    inference_ops = [node.op_type for node in build_graph(model, training=False).onnx_model.graph.node]
    assert "Relu" in inference_ops and "Greater" not in inference_ops
    training_ops = [
        node.op_type for node in build_graph(model, training=True, forms=ORT_FORMS).onnx_model.graph.node
    ]
    assert "Relu" not in training_ops and training_ops.count("Greater") == 1


def test_eval_model_gets_the_single_relu_back(tmp_path: Path) -> None:
    """The mask form only speeds up gradients; the forward-only eval model runs one Relu."""
    rng = np.random.default_rng(6)
    weights, bias = rng.normal(size=(4, 3)).astype(F32), rng.normal(size=4).astype(F32)
    to_training_artifacts(relu_after_dense(weights, bias), tmp_path / "artifacts")
    evaluation = onnx.load(tmp_path / "artifacts" / "eval_model.onnx")
    ops = [node.op_type for node in evaluation.graph.node]
    assert ops.count("Relu") == 1 and not {"Greater", "Cast"} & set(ops)
    assert "act/zero" not in {tensor.name for tensor in evaluation.graph.initializer}

    x, target = rng.normal(size=(4, 3)).astype(F32), rng.normal(size=(4, 4)).astype(F32)
    loss, outputs = TrainingSession(tmp_path / "artifacts").eval_step({"x": x, "act_target": target})
    expected = np.maximum(x.astype(np.float64) @ weights.T + bias, 0.0)
    np.testing.assert_allclose(outputs["act"], expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(loss, np.mean((expected - target) ** 2), rtol=1e-5)


def mask_form_graph(threshold: float, *, mask_is_output: bool) -> onnx.GraphProto:
    """y = x * Cast(x > threshold), optionally also exposing the mask."""
    helper, float_type = onnx.helper, onnx.TensorProto.FLOAT
    nodes = [
        helper.make_node("Greater", ["x", "t"], ["p"]),
        helper.make_node("Cast", ["p"], ["m"], to=float_type),
        helper.make_node("Mul", ["x", "m"], ["y"]),
    ]
    outputs = [helper.make_tensor_value_info(name, float_type, [5]) for name in ("y", "m")]
    threshold_tensor = onnx.numpy_helper.from_array(np.array(threshold, F32), "t")
    return helper.make_graph(
        nodes,
        "mask_form",
        [helper.make_tensor_value_info("x", float_type, [5])],
        outputs[: 1 + mask_is_output],
        [threshold_tensor],
    )


def test_restore_folds_only_the_exact_pattern() -> None:
    folded = mask_form_graph(0.0, mask_is_output=False)
    restore_relu_nodes(folded)
    assert [node.op_type for node in folded.node] == ["Relu"] and not folded.initializer
    model = onnx.helper.make_model(folded, opset_imports=[onnx.helper.make_opsetid("", 21)], ir_version=10)
    x = np.array([-2.0, -0.0, 0.0, 0.5, 3.0], F32)
    np.testing.assert_array_equal(run_onnx(model, {"x": x})["y"], np.maximum(x, 0.0))

    for graph in (mask_form_graph(0.5, mask_is_output=False), mask_form_graph(0.0, mask_is_output=True)):
        before = graph.SerializeToString()
        restore_relu_nodes(graph)  # a non-zero threshold, or a mask someone reads: not a ReLU
        assert graph.SerializeToString() == before


def conv_relu_pool(*, relu_is_output: bool) -> model_pb2.Model:
    rng = np.random.default_rng(7)
    conv_fields: dict[str, Any] = {"input_channels": 1, "output_channels": 2, "kernel_shape": [2, 2]}
    conv_fields.update(has_bias=True, weights=rng.normal(size=(2, 1, 2, 2)).astype(F32))
    window: dict[str, Any] = {"kernel_shape": [2, 2], "strides": [2, 2], "padding": padding("same")}
    layers = [
        layer(
            "convolution", "conv", ["x"], updatable=True, bias=rng.normal(size=2).astype(F32), **conv_fields
        ),
        layer("activation", "act", ["conv"], type=ActivationType.RELU),
        layer("pooling", "pool", ["act"], type=layers_pb2.PoolingLayer.MAX, **window),
        layer("flatten", "flat", ["pool"]),
    ]
    model = trainable_model(layers, [1, 5, 5], [8])
    if relu_is_output:
        model.description.outputs.add().CopyFrom(tensor_feature("act", ["batch", 2, 4, 4]))
    return model


def test_relu_before_max_pool_runs_on_the_pooled_tensor(tmp_path: Path) -> None:
    """Pooling first gives the same values and gradients with a quarter of the ReLU's work."""
    model = conv_relu_pool(relu_is_output=False)
    nodes = build_graph(model, training=True, forms=ORT_FORMS).onnx_model.graph.node
    (pool,) = [node for node in nodes if node.op_type == "MaxPool"]
    (greater,) = [node for node in nodes if node.op_type == "Greater"]
    assert list(pool.input) == ["conv"] and greater.input[0] == pool.output[0]
    rng = np.random.default_rng(8)
    feeds = {
        "x": rng.normal(size=(4, 1, 5, 5)).astype(F32),
        "flat_target": rng.normal(size=(4, 8)).astype(F32),
    }
    assert_gradients_match(model, feeds, tmp_path)


def test_relu_read_elsewhere_stays_before_the_pool() -> None:
    nodes = build_graph(
        conv_relu_pool(relu_is_output=True), training=True, forms=ORT_FORMS
    ).onnx_model.graph.node
    (pool,) = [node for node in nodes if node.op_type == "MaxPool"]
    assert list(pool.input) == ["act"]
