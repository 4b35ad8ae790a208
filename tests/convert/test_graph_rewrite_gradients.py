"""The rewrites exist to be differentiated: their ORT gradients match finite differences.

For each kind onnxruntime-training cannot differentiate (ELU, softplus, hard sigmoid, hard
swish, global max pooling) and for a frozen batch norm, the layer sits between an updatable
layer and an MSE loss. The gradient ORT computes for the updatable weights must equal float64
central differences of mlspec.reference; a rewrite with the right forward value but a broken
gradient (NaN from an overflowing discarded branch, a wrong Clip bound) fails here. The
tolerance is 5e-5 of the largest gradient: float32 rounding stays below it, while the exact
GELU's derivative standing in for the tanh form's (5.3e-4 at scale 1.9) did not.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlspec import MlspecError
from mlspec._proto import layers_pb2, model_pb2
from mlspec.backends import to_training_artifacts
from mlspec.backends.ort_training.forms import ORT_FORMS
from mlspec.backends.ort_training.session import TrainingSession
from mlspec.convert import build_graph
from mlspec.reference import evaluate
from mlspec.spec.hyper import double_parameter, int_parameter
from tests.support.specs import add_loss, layer, network, padding, tensor_feature

F32 = np.float32
Activation = layers_pb2.ActivationLayer


def trainable_model(
    layers: list[layers_pb2.Layer], input_dims: list[Any], output_dims: list[Any]
) -> model_pb2.Model:
    model = network({"x": ["batch", *input_dims]}, layers)
    model.description.outputs[0].CopyFrom(tensor_feature(layers[-1].outputs[0], ["batch", *output_dims]))
    add_loss(model, layers[-1].outputs[0], ["batch", *output_dims])
    sgd = model.update_parameters.optimizer.sgd
    sgd.learning_rate.CopyFrom(double_parameter(0.1, (0.0, 1.0)))
    sgd.mini_batch_size.CopyFrom(int_parameter(4, [4]))
    model.update_parameters.epochs.CopyFrom(int_parameter(1, (1, 10)))
    return model


def mse(model: model_pb2.Model, feeds: dict[str, Any], overrides: dict[str, Any]) -> float:
    output = model.update_parameters.loss_layers[0].input
    values = evaluate(model, {"x": feeds["x"]}, dtype=np.float64, overrides=overrides, outputs=[output])
    return float(np.mean((values[output] - feeds[f"{output}_target"]) ** 2))


def assert_gradients_match(model: model_pb2.Model, feeds: dict[str, Any], tmp_path: Path) -> None:
    to_training_artifacts(model, tmp_path / "artifacts")
    session = TrainingSession(tmp_path / "artifacts")
    weights = {name: value.astype(np.float64) for name, value in session.parameters().items()}
    session.learning_rate = 0.0
    session.train_step(feeds)
    gradients = session.gradients()
    assert gradients
    step = 1e-6
    for name, actual in gradients.items():
        expected = np.zeros_like(weights[name])
        for index in np.ndindex(expected.shape):
            shifted = {key: value.copy() for key, value in weights.items()}
            shifted[name][index] += step
            upper = mse(model, feeds, shifted)
            shifted[name][index] -= 2 * step
            expected[index] = (upper - mse(model, feeds, shifted)) / (2 * step)
        assert np.all(np.isfinite(actual)), name
        scale = max(float(np.abs(expected).max()), 1e-8)
        assert np.abs(actual - expected).max() <= 5e-5 * scale, f"{name}: {actual} vs {expected}"


def dense(rng: np.random.Generator, n_in: int, n_out: int, scale: float) -> layers_pb2.Layer:
    sizes: dict[str, Any] = {"input_channels": n_in, "output_channels": n_out, "has_bias": True}
    weights = (rng.normal(size=(n_out, n_in)) * scale).astype(F32)
    return layer(
        "inner_product",
        "fc",
        ["x"],
        updatable=True,
        weights=weights,
        bias=rng.normal(size=n_out).astype(F32),
        **sizes,
    )


# Weight scales: exp-based rewrites see pre-activations past float32's exp overflow (about 88),
# where a rewrite that lets Exp see the discarded branch's input yields NaN gradients; the
# clipped ones stay mostly inside their linear region so the gradient is not all zero.
WEIGHT_SCALES = {"ELU": 60.0, "SOFTPLUS": 60.0, "HARD_SIGMOID": 1.0, "HARD_SWISH": 2.0}


@pytest.mark.parametrize("kind", sorted(WEIGHT_SCALES))
def test_activation_rewrite_gradients(kind: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(len(kind))
    act = layer("activation", "act", ["fc"], type=Activation.ActivationType.Value(kind), alpha=0.3, beta=0.45)
    model = trainable_model([dense(rng, 3, 4, scale=WEIGHT_SCALES[kind]), act], [3], [4])
    assert "act" in build_graph(model, training=True, forms=ORT_FORMS).onnx_model.graph.node[-1].name
    x = rng.normal(size=(4, 3)).astype(F32)
    assert_gradients_match(model, {"x": x, "act_target": rng.normal(size=(4, 4)).astype(F32)}, tmp_path)


def conv_layer(rng: np.random.Generator) -> layers_pb2.Layer:
    fields: dict[str, Any] = {
        "input_channels": 1,
        "output_channels": 2,
        "kernel_shape": [2, 2],
        "has_bias": True,
    }
    fields.update(weights=rng.normal(size=(2, 1, 2, 2)).astype(F32), bias=rng.normal(size=2).astype(F32))
    return layer("convolution", "conv", ["x"], updatable=True, **fields)


def test_global_max_pool_rewrite_gradients(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    pool_fields: dict[str, Any] = {"type": layers_pb2.PoolingLayer.MAX, "global": True}
    layers = [
        conv_layer(rng),
        layer("pooling", "pool", ["conv"], **pool_fields),
        layer("flatten", "flat", ["pool"]),
    ]
    model = trainable_model(layers, [1, 4, 4], [2])
    x = rng.normal(size=(4, 1, 4, 4)).astype(F32)
    assert_gradients_match(model, {"x": x, "flat_target": rng.normal(size=(4, 2)).astype(F32)}, tmp_path)


def test_frozen_batch_norm_passes_gradients(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    stats: dict[str, Any] = {"channels": 2, "epsilon": 1e-3, "momentum": 0.9}
    stats.update(gamma=np.array([1.5, -0.5], F32), beta=np.array([0.1, 0.2], F32))
    stats.update(running_mean=np.array([0.3, -0.2], F32), running_variance=np.array([2.0, 0.5], F32))
    layers = [conv_layer(rng), layer("batch_norm", "bn", ["conv"], **stats), layer("flatten", "flat", ["bn"])]
    model = trainable_model(layers, [1, 3, 3], [8])
    x = rng.normal(size=(4, 1, 3, 3)).astype(F32)
    assert_gradients_match(model, {"x": x, "flat_target": rng.normal(size=(4, 8)).astype(F32)}, tmp_path)


def _after_dense(*after: layers_pb2.Layer, width: int = 4, out: int = 4) -> Any:
    """fc (3 -> width, updatable) followed by `after`; the last layer's output has `out` features."""
    return lambda rng: ([dense(rng, 3, width, scale=1.0), *after], [3], [out])


def _activation(kind: str, **fields: Any) -> Any:
    return _after_dense(
        layer("activation", "act", ["fc"], type=Activation.ActivationType.Value(kind), **fields)
    )


def _after_conv(*after: layers_pb2.Layer, out: int) -> Any:
    """conv (1 -> 2 channels, 2x2 kernel, updatable) on 5x5 images followed by `after`, then flatten."""
    return lambda rng: (
        [conv_layer(rng), *after, layer("flatten", "flat", [after[-1].name])],
        [1, 5, 5],
        [out],
    )


MAX, AVERAGE = layers_pb2.PoolingLayer.MAX, layers_pb2.PoolingLayer.AVERAGE
WINDOW: dict[str, Any] = {"kernel_shape": [2, 2], "strides": [2, 2], "padding": padding("same")}
EXPLICIT_WINDOW: dict[str, Any] = {
    "kernel_shape": [2, 2],
    "strides": [2, 2],
    "padding": padding("explicit", pads=[1] * 4),
}
GLOBAL: dict[str, Any] = {"global": True}  # a Python keyword, so passed through a dict
# Kinds on a training path, emitted as plain ops or (average pooling) rewritten, that must train.
PLAIN_PATHS: dict[str, Any] = {
    "relu": _activation("RELU"),
    "leaky_relu": _activation("LEAKY_RELU", alpha=0.2),
    "sigmoid": _activation("SIGMOID"),
    "tanh": _activation("TANH"),
    "gelu": _activation("GELU"),
    "gelu_tanh": _activation("GELU", approximate_tanh=True),
    "linear": _activation("LINEAR", alpha=-1.5, beta=0.3),
    "clip": _activation("CLIP", alpha=-0.5, beta=0.8),
    "softmax": _after_dense(layer("softmax", "sm", ["fc"])),
    "layer_norm": _after_dense(
        layer(
            "layer_norm",
            "ln",
            ["fc"],
            normalized_shape=[4],
            epsilon=1e-5,
            gamma=np.array([1.0, 2, 3, 4], F32),
            beta=np.full(4, 0.5, F32),
        )
    ),
    "multiply": _after_dense(layer("multiply", "square", ["fc", "fc"])),
    "transpose": _after_dense(
        layer("reshape", "grid", ["fc"], target_shape=[2, 3]),
        layer("transpose", "swap", ["grid"], perm=[0, 2, 1]),
        layer("flatten", "flat", ["swap"]),
        width=6,
        out=6,
    ),
    "max_pool": _after_conv(layer("pooling", "pool", ["conv"], type=MAX, **WINDOW), out=8),
    "average_pool": _after_conv(layer("pooling", "pool", ["conv"], type=AVERAGE, **WINDOW), out=8),
    "average_pool_padding_excluded": _after_conv(
        layer("pooling", "pool", ["conv"], type=AVERAGE, **EXPLICIT_WINDOW), out=18
    ),
    "average_pool_padding_counted": _after_conv(
        layer("pooling", "pool", ["conv"], type=AVERAGE, count_include_pad=True, **EXPLICIT_WINDOW), out=18
    ),
    "global_average_pool": _after_conv(layer("pooling", "pool", ["conv"], type=AVERAGE, **GLOBAL), out=2),
}


@pytest.mark.parametrize("case", sorted(PLAIN_PATHS))
def test_kinds_on_a_training_path_pass_gradients(case: str, tmp_path: Path) -> None:
    rng = np.random.default_rng(len(case))
    layers, input_dims, output_dims = PLAIN_PATHS[case](rng)
    model = trainable_model(layers, input_dims, output_dims)
    output = layers[-1].outputs[0]
    feeds = {
        "x": rng.normal(size=(4, *input_dims)).astype(F32),
        f"{output}_target": rng.normal(size=(4, *output_dims)).astype(F32),
    }
    assert_gradients_match(model, feeds, tmp_path)


def test_dense_over_a_sequence_trains_through_matmul(tmp_path: Path) -> None:
    """A rank-3 input takes the MatMul-on-transposed-weights form instead of Gemm."""
    rng = np.random.default_rng(13)
    fc = dense(rng, 3, 2, scale=1.0)
    model = trainable_model([fc, layer("flatten", "flat", ["fc"])], [4, 3], [8])
    assert "MatMul" in {
        node.op_type for node in build_graph(model, training=True, forms=ORT_FORMS).onnx_model.graph.node
    }
    feeds = {"x": rng.normal(size=(4, 4, 3)).astype(F32), "flat_target": rng.normal(size=(4, 8)).astype(F32)}
    assert_gradients_match(model, feeds, tmp_path)


def test_same_padded_strided_convolution_over_unknown_sizes_is_refused_for_training() -> None:
    """Inference may use auto_pad over unknown sizes; training may not (see test_graph_ort_facts.py)."""
    fields: dict[str, Any] = {
        "input_channels": 1,
        "output_channels": 2,
        "kernel_shape": [3, 3],
        "strides": [2, 2],
    }
    fields.update(padding=padding("same"), has_bias=False, weights=np.ones((2, 1, 3, 3), F32))
    layers = [
        layer("convolution", "conv", ["x"], updatable=True, **fields),
        layer("flatten", "flat", ["conv"]),
    ]
    model = trainable_model(layers, [1, "h", "w"], ["n"])
    assert build_graph(model, training=False).onnx_model.graph.node[0].attribute
    with pytest.raises(MlspecError, match=r'layers\["conv"\].*fixed spatial input sizes.*wrong gradients'):
        build_graph(model, training=True, forms=ORT_FORMS)


@pytest.mark.parametrize("relu_before", [False, True])
def test_max_pool_over_unknown_spatial_sizes_trains_as_a_gather(relu_before: bool, tmp_path: Path) -> None:
    """paddle2onnx declares images [batch, 3, -1, -1]; ORT's MaxPoolGrad sized its result from those
    unknown sizes as 0 ("Can broadcast 0 by 0 or 1"), so such a pool is a Gather at its Indices."""
    rng = np.random.default_rng(21)
    source = "conv"
    layers = [conv_layer(rng)]
    if relu_before:  # a ReLU that only the max pool reads moves behind it
        layers.append(layer("activation", "relu", ["conv"], type=Activation.ActivationType.RELU))
        source = "relu"
    pool_window: dict[str, Any] = {"kernel_shape": [2, 2], "strides": [2, 2], "padding": padding("valid")}
    layers += [
        layer("pooling", "pool", [source], type=MAX, **pool_window),
        layer("pooling", "gap", ["pool"], type=AVERAGE, **GLOBAL),
        layer("flatten", "flat", ["gap"]),
    ]
    model = trainable_model(layers, [1, "h", "w"], [2])
    ops = [node.op_type for node in build_graph(model, training=True, forms=ORT_FORMS).onnx_model.graph.node]
    assert "Gather" in ops and "MaxPool" in ops
    feeds = {
        "x": rng.normal(size=(4, 1, 5, 7)).astype(F32),
        "flat_target": rng.normal(size=(4, 2)).astype(F32),
    }
    assert_gradients_match(model, feeds, tmp_path)
