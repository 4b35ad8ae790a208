"""The training graph's rewritten forms compute the same forward values as the reference.

Each model puts the layer under test between an updatable layer and a loss, so build_graph
(training=True) must emit the differentiable rewrite; the graph is then run in onnxruntime and
compared with mlspec.reference in training mode.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import pytest

from mlspec._proto import layers_pb2, model_pb2
from mlspec.backends.ort_training.forms import ORT_FORMS
from mlspec.convert import GraphBuild, build_graph
from mlspec.reference import evaluate
from mlspec.spec.weights import to_numpy
from tests.convert.forward_check import assert_close, check_contract, run_onnx
from tests.support.specs import add_loss, layer, network, padding

F32 = np.float32
ActivationType = layers_pb2.ActivationLayer.ActivationType


def dense(
    name: str, source: str, n_in: int, n_out: int, rng: np.random.Generator, *, scale: float = 1.0
) -> layers_pb2.Layer:
    weights = (rng.normal(size=(n_out, n_in)) * scale).astype(F32)
    bias = rng.normal(size=n_out).astype(F32)
    sizes: dict[str, Any] = {"input_channels": n_in, "output_channels": n_out, "has_bias": True}
    return layer("inner_product", name, [source], updatable=True, weights=weights, bias=bias, **sizes)


def conv(name: str, source: str, channels: int, rng: np.random.Generator) -> layers_pb2.Layer:
    fields: dict[str, Any] = {
        "input_channels": channels,
        "output_channels": 3,
        "kernel_shape": [3, 3],
        "has_bias": True,
    }
    fields["weights"] = rng.normal(size=(3, channels, 3, 3)).astype(F32)
    fields["bias"] = rng.normal(size=3).astype(F32)
    return layer("convolution", name, [source], updatable=True, **fields)


def with_outputs(onnx_model: onnx.ModelProto, outputs: dict[str, list[Any]]) -> onnx.ModelProto:
    """A copy exposing internal tensors (running statistics, masks) as float graph outputs."""
    exposed = onnx.ModelProto()
    exposed.CopyFrom(onnx_model)
    for name, dims in outputs.items():
        exposed.graph.output.append(onnx.helper.make_tensor_value_info(name, onnx.TensorProto.FLOAT, dims))
    return exposed


def training_forward(
    model: model_pb2.Model, feeds: dict[str, Any], extra: dict[str, list[Any]] | None = None, **reference: Any
) -> tuple[GraphBuild, dict[str, Any]]:
    build = build_graph(model, training=True, forms=ORT_FORMS)
    emitted = with_outputs(build.onnx_model, extra or {})
    check_contract(emitted, model)
    got = run_onnx(emitted, feeds)
    stat_of = {tensor: stat for stat, tensor in build.running_stat_outputs.items()}
    wanted = [stat_of.get(name, name) for name in got]
    expected = evaluate(model, feeds, training=True, dtype=np.float64, outputs=wanted, **reference)
    for name, expected_name in zip(got, wanted, strict=True):
        if name.endswith("/mask"):
            continue
        assert_close(got[name], expected[expected_name], name)
    return build, got


def op_types(build: GraphBuild) -> set[str]:
    return {node.op_type for node in build.onnx_model.graph.node}


REWRITTEN = {
    "RELU": "Relu",
    "LEAKY_RELU": "LeakyRelu",
    "ELU": "Elu",
    "SOFTPLUS": "Softplus",
    "HARD_SIGMOID": "HardSigmoid",
    "HARD_SWISH": "HardSwish",
}


@pytest.mark.parametrize("name", sorted(REWRITTEN))
def test_activation_rewrites_match_reference(name: str) -> None:
    rng = np.random.default_rng(len(name))
    act = layer("activation", "act", ["fc"], type=ActivationType.Value(name), alpha=0.7, beta=0.4)
    model = network({"x": ["batch", 4]}, [dense("fc", "x", 4, 16, rng, scale=8.0), act])
    add_loss(model, "act", ["batch", 16])
    build, got = training_forward(model, {"x": rng.normal(size=(6, 4)).astype(F32)})
    assert REWRITTEN[name] not in op_types(build)
    assert any(node.name.startswith("act/") for node in build.onnx_model.graph.node)
    assert got["act"].shape == (6, 16)


def test_global_max_pool_rewrite_matches_reference() -> None:
    rng = np.random.default_rng(0)
    fields: dict[str, Any] = {"type": layers_pb2.PoolingLayer.MAX, "global": True}
    pool = layer("pooling", "pool", ["conv"], **fields)
    flat = layer("flatten", "flat", ["pool"])
    model = network({"x": ["batch", 2, 6, 7]}, [conv("conv", "x", 2, rng), pool, flat])
    add_loss(model, "flat", ["batch", 3])
    build, _ = training_forward(model, {"x": rng.normal(size=(3, 2, 6, 7)).astype(F32)})
    assert "GlobalMaxPool" not in op_types(build)
    assert "MaxPool" in op_types(build)


def batch_norm(
    name: str, source: str, channels: int, rng: np.random.Generator, *, updatable: bool
) -> layers_pb2.Layer:
    return layer(
        "batch_norm",
        name,
        [source],
        updatable=updatable,
        channels=channels,
        epsilon=1e-3,
        momentum=0.8,
        gamma=rng.normal(size=channels).astype(F32),
        beta=rng.normal(size=channels).astype(F32),
        running_mean=rng.normal(size=channels).astype(F32),
        running_variance=rng.uniform(0.5, 2.0, size=channels).astype(F32),
    )


def test_frozen_batch_norm_on_training_path_is_an_affine_matching_reference() -> None:
    rng = np.random.default_rng(1)
    model = network(
        {"x": ["batch", 2, 5, 5]},
        [conv("conv", "x", 2, rng), batch_norm("bn", "conv", 3, rng, updatable=False)],
    )
    add_loss(model, "bn", ["batch", 3, 3, 3])
    build, _ = training_forward(model, {"x": rng.normal(size=(4, 2, 5, 5)).astype(F32)})
    assert "BatchNormalization" not in op_types(build)
    assert build.frozen_stateful == [] and build.running_stat_outputs == {}


def test_updatable_batch_norm_trains_with_batch_statistics_and_reports_running_stats() -> None:
    rng = np.random.default_rng(2)
    model = network({"x": ["batch", 3, 4]}, [batch_norm("bn", "x", 3, rng, updatable=True)])
    add_loss(model, "bn", ["batch", 3, 4])
    build = build_graph(model, training=True, forms=ORT_FORMS)
    assert build.frozen_stateful == ["bn.running_mean", "bn.running_variance"]
    assert set(build.running_stat_outputs) == {"bn.running_mean", "bn.running_variance"}
    extra = {tensor: [3] for tensor in build.running_stat_outputs.values()}
    x = (rng.normal(size=(5, 3, 4)) * 2 + 1).astype(F32)
    _, got = training_forward(model, {"x": x}, extra)
    # Batch statistics, not the running ones: every channel of the output has mean beta.
    beta = to_numpy(model.network.layers[0].batch_norm.beta).astype(np.float64)
    np.testing.assert_allclose(got["bn"].mean(axis=(0, 2)), beta, atol=1e-5)
    assert build.trainable == ["bn.gamma", "bn.beta"]


def test_training_dropout_applies_its_mask_and_can_be_switched_off() -> None:
    rng = np.random.default_rng(3)
    drop = layer("dropout", "drop", ["fc"], rate=0.4)
    model = network({"x": ["batch", 3]}, [dense("fc", "x", 3, 50, rng), drop])
    add_loss(model, "drop", ["batch", 50])
    build = build_graph(model, training=True, forms=ORT_FORMS)
    (mode,) = build.dropout_mode_inputs
    initializers = {init.name: init for init in build.onnx_model.graph.initializer}
    assert initializers[mode].data_type == onnx.TensorProto.BOOL
    assert bool(onnx.numpy_helper.to_array(initializers[mode])) is True
    dropout = next(node for node in build.onnx_model.graph.node if node.op_type == "Dropout")
    assert list(dropout.input)[2] == mode and len(dropout.output) == 2

    x = rng.normal(size=(4, 3)).astype(F32)
    exposed = with_outputs(build.onnx_model, {})
    exposed.graph.output.append(
        onnx.helper.make_tensor_value_info(dropout.output[1], onnx.TensorProto.BOOL, [4, 50])
    )
    check_contract(exposed, model)
    got = run_onnx(exposed, {"x": x})
    mask = got[dropout.output[1]]
    assert 0 < mask.mean() < 1  # some units dropped, some kept
    expected = evaluate(model, {"x": x}, training=True, dtype=np.float64, dropout_masks={"drop": mask})
    assert_close(got["drop"], expected["drop"], "drop")

    # The eval model's switch: the same graph with training_mode False is the identity.
    for init in exposed.graph.initializer:
        if init.name == mode:
            init.CopyFrom(onnx.numpy_helper.from_array(np.array(False), mode))
    switched_off = run_onnx(exposed, {"x": x})
    assert_close(switched_off["drop"], evaluate(model, {"x": x}, dtype=np.float64)["drop"], "drop")


def test_training_layer_norm_declares_its_statistics() -> None:
    rng = np.random.default_rng(4)
    norm = layer(
        "layer_norm",
        "ln",
        ["fc"],
        normalized_shape=[6],
        epsilon=1e-5,
        gamma=rng.normal(size=6).astype(F32),
        beta=rng.normal(size=6).astype(F32),
    )
    model = network({"x": ["batch", 3]}, [dense("fc", "x", 3, 6, rng), norm])
    add_loss(model, "ln", ["batch", 6])
    build, _ = training_forward(model, {"x": rng.normal(size=(4, 3)).astype(F32)})
    (node,) = [n for n in build.onnx_model.graph.node if n.op_type == "LayerNormalization"]
    assert len(node.output) == 3 and all(node.output)


def test_training_layer_norm_without_beta_gets_a_zero_bias() -> None:
    rng = np.random.default_rng(7)
    norm = layer(
        "layer_norm", "ln", ["fc"], normalized_shape=[5], epsilon=1e-5, gamma=rng.normal(size=5).astype(F32)
    )
    model = network({"x": ["batch", 3]}, [dense("fc", "x", 3, 5, rng), norm])
    add_loss(model, "ln", ["batch", 5])
    build, _ = training_forward(model, {"x": rng.normal(size=(4, 3)).astype(F32)})
    (node,) = [n for n in build.onnx_model.graph.node if n.op_type == "LayerNormalization"]
    assert len(node.input) == 3 and len(node.output) == 3


def test_layers_off_the_training_path_keep_their_plain_ops() -> None:
    """Elu before the updatable layer and Softplus on a branch no loss reads need no gradient."""
    rng = np.random.default_rng(5)
    layers = [
        layer("activation", "elu", ["x"], type=ActivationType.ELU, alpha=1.0),
        dense("fc", "elu", 4, 5, rng),
        layer("activation", "side", ["fc"], type=ActivationType.SOFTPLUS),
        layer("activation", "head", ["fc"], type=ActivationType.HARD_SWISH),
    ]
    model = network({"x": ["batch", 4]}, layers, outputs=["side", "head"])
    add_loss(model, "head", ["batch", 5])
    build, _ = training_forward(model, {"x": (rng.normal(size=(3, 4)) * 3).astype(F32)})
    assert {"Elu", "Softplus"} <= op_types(build)
    assert "HardSwish" not in op_types(build)


def test_dropout_masks_follow_the_spec_seed() -> None:
    """Same seed, same masks (reproducible runs); two dropout layers draw different masks."""
    rng = np.random.default_rng(6)
    layers = [
        dense("fc", "x", 3, 40, rng),
        layer("dropout", "d1", ["fc"], rate=0.5),
        layer("dropout", "d2", ["fc"], rate=0.5),
    ]
    model = network({"x": ["batch", 3]}, layers, outputs=["d1", "d2"])
    add_loss(model, "d1", ["batch", 40])
    add_loss(model, "d2", ["batch", 40])
    model.update_parameters.seed.default_value = 7
    x = rng.normal(size=(4, 3)).astype(F32)
    first = run_onnx(build_graph(model, training=True, forms=ORT_FORMS).onnx_model, {"x": x})
    again = run_onnx(build_graph(model, training=True, forms=ORT_FORMS).onnx_model, {"x": x})
    np.testing.assert_array_equal(first["d1"], again["d1"])
    assert not np.array_equal(first["d1"] == 0, first["d2"] == 0)


AVERAGE_WINDOWS = [
    ("valid", False, False),
    ("explicit", False, False),
    ("explicit", True, False),
    ("same", False, True),
    ("same", True, True),
]


@pytest.mark.parametrize(("pad", "include_pad", "symbolic"), AVERAGE_WINDOWS)
def test_average_pool_on_a_training_path_is_a_depthwise_conv_matching_reference(
    pad: str, include_pad: bool, symbolic: bool
) -> None:
    rng = np.random.default_rng(len(pad) + include_pad)
    chosen = padding("explicit", pads=[1, 0, 1, 1]) if pad == "explicit" else padding(pad)
    # Unknown sizes allow same padding on a training path only with stride 1 (no auto_pad).
    strides = [1, 1] if symbolic else [2, 2]
    window: dict[str, Any] = {"kernel_shape": [2, 3], "strides": strides, "padding": chosen}
    pool = layer(
        "pooling",
        "pool",
        ["conv"],
        type=layers_pb2.PoolingLayer.AVERAGE,
        count_include_pad=include_pad,
        **window,
    )
    spatial: list[Any] = ["h", "w"] if symbolic else [7, 8]
    model = network({"x": ["batch", 2, *spatial]}, [conv("conv", "x", 2, rng), pool])
    add_loss(model, "pool", ["batch", 3, "ph", "pw"])
    build, _ = training_forward(model, {"x": rng.normal(size=(3, 2, 7, 8)).astype(F32)})
    assert "AveragePool" not in op_types(build)
