"""The reference judged on its own, against naive loops and closed forms written here.

The converter's tests trust mlspec.reference; these tests are why that trust is earned. Each
check recomputes a kind element by element with plain Python loops or a textbook formula.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import numpy as np
import pytest

from mlspec import MlspecError
from mlspec._proto import layers_pb2
from mlspec.reference import LAYER_FUNCTIONS, evaluate
from mlspec.spec.kinds import KINDS
from tests.support.specs import layer, network, padding

F64 = np.float64
Array = np.ndarray[Any, Any]


def loop_conv2d(
    x: Array, w: Array, b: Array, *, stride: int, dilation: int, pads: list[int], groups: int
) -> Array:
    """Direct definition of ONNX Conv: every output element as an explicit sum over its window."""
    n_batch, channels, height, width = x.shape
    out_channels, per_group, k_h, k_w = w.shape
    top, left, bottom, right = pads
    padded = np.zeros((n_batch, channels, height + top + bottom, width + left + right))
    padded[:, :, top : top + height, left : left + width] = x
    out_h = (padded.shape[2] - dilation * (k_h - 1) - 1) // stride + 1
    out_w = (padded.shape[3] - dilation * (k_w - 1) - 1) // stride + 1
    y = np.zeros((n_batch, out_channels, out_h, out_w))
    outs_per_group = out_channels // groups
    for n, m, i, j in itertools.product(range(n_batch), range(out_channels), range(out_h), range(out_w)):
        group = m // outs_per_group
        total = b[m]
        for c, p, q in itertools.product(range(per_group), range(k_h), range(k_w)):
            total += (
                w[m, c, p, q]
                * padded[n, group * per_group + c, i * stride + p * dilation, j * stride + q * dilation]
            )
        y[n, m, i, j] = total
    return y


@pytest.mark.parametrize(("stride", "dilation", "groups"), [(1, 1, 1), (2, 1, 2), (1, 2, 4), (2, 2, 1)])
def test_convolution_equals_explicit_loops(stride: int, dilation: int, groups: int) -> None:
    rng = np.random.default_rng(stride * 10 + dilation + groups)
    channels, out_channels = 4, 4
    w = rng.normal(size=(out_channels, channels // groups, 3, 2))
    b = rng.normal(size=out_channels)
    pads = [1, 0, 2, 1]
    fields: dict[str, Any] = {
        "input_channels": channels,
        "output_channels": out_channels,
        "kernel_shape": [3, 2],
    }
    fields.update(strides=[stride] * 2, dilations=[dilation] * 2, groups=groups, has_bias=True)
    fields.update(padding=padding("explicit", pads=pads), weights=w, bias=b)
    model = network({"x": ["batch", channels, 7, 6]}, [layer("convolution", "conv", ["x"], **fields)])
    x = rng.normal(size=(2, channels, 7, 6))
    got = evaluate(model, {"x": x}, dtype=F64)["conv"]
    np.testing.assert_allclose(
        got,
        loop_conv2d(x, w, b, stride=stride, dilation=dilation, pads=pads, groups=groups),
        rtol=1e-12,
        atol=1e-12,
    )


@pytest.mark.parametrize(("size", "stride", "kernel"), [(7, 2, 3), (8, 3, 2), (5, 1, 4)])
def test_same_padding_keeps_ceil_of_size_over_stride(size: int, stride: int, kernel: int) -> None:
    fields: dict[str, Any] = {"input_channels": 1, "output_channels": 1, "kernel_shape": [kernel]}
    fields.update(strides=[stride], padding=padding("same"), weights=np.ones((1, 1, kernel)))
    model = network({"x": ["batch", 1, size]}, [layer("convolution", "conv", ["x"], **fields)])
    got = evaluate(model, {"x": np.ones((1, 1, size))}, dtype=F64)["conv"]
    assert got.shape == (1, 1, math.ceil(size / stride))
    # All-ones input and weights: each output counts the real (unpadded) cells under its window,
    # and with upper same padding the extra cell of padding sits at the end.
    total = max((math.ceil(size / stride) - 1) * stride + kernel - size, 0)
    begin = total // 2
    expected = [sum(0 <= i * stride - begin + k < size for k in range(kernel)) for i in range(got.shape[2])]
    assert got[0, 0].tolist() == expected


def test_pooling_equals_explicit_loops() -> None:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(2, 3, 5, 6))
    pads = [1, 1, 0, 1]
    common: dict[str, Any] = {
        "kernel_shape": [2, 3],
        "strides": [2, 2],
        "padding": padding("explicit", pads=pads),
    }
    layers = [
        layer("pooling", "max", ["x"], type=layers_pb2.PoolingLayer.MAX, **common),
        layer("pooling", "avg", ["x"], type=layers_pb2.PoolingLayer.AVERAGE, **common),
        layer(
            "pooling",
            "avg_pad",
            ["x"],
            type=layers_pb2.PoolingLayer.AVERAGE,
            count_include_pad=True,
            **common,
        ),
    ]
    got = evaluate(
        network({"x": ["batch", 3, 5, 6]}, layers, outputs=["max", "avg", "avg_pad"]), {"x": x}, dtype=F64
    )
    top, left = pads[0], pads[1]
    out_h, out_w = (5 + 1 + 0 - 2) // 2 + 1, (6 + 1 + 1 - 3) // 2 + 1
    for n, c, i, j in itertools.product(range(2), range(3), range(out_h), range(out_w)):
        cells = [
            x[n, c, r, s]
            for r in range(i * 2 - top, i * 2 - top + 2)
            for s in range(j * 2 - left, j * 2 - left + 3)
            if 0 <= r < 5 and 0 <= s < 6
        ]
        assert got["max"][n, c, i, j] == pytest.approx(max(cells))
        assert got["avg"][n, c, i, j] == pytest.approx(sum(cells) / len(cells))
        assert got["avg_pad"][n, c, i, j] == pytest.approx(sum(cells) / 6)


def test_softmax_rows_sum_to_one_and_follow_the_formula() -> None:
    rng = np.random.default_rng(8)
    x = rng.normal(size=(4, 5)) * 10
    got = evaluate(network({"x": ["batch", 5]}, [layer("softmax", "sm", ["x"])]), {"x": x}, dtype=F64)["sm"]
    np.testing.assert_allclose(got.sum(axis=1), 1.0, rtol=1e-14)
    for row, values in zip(got, x, strict=True):
        denominator = sum(math.exp(v - max(values)) for v in values)
        assert row.tolist() == pytest.approx(
            [math.exp(v - max(values)) / denominator for v in values], rel=1e-12
        )


def test_gelu_and_softplus_follow_their_definitions() -> None:
    x = np.linspace(-6, 6, 25)
    kinds = layers_pb2.ActivationLayer
    layers = [
        layer("activation", "gelu", ["x"], type=kinds.GELU),
        layer("activation", "gelu_tanh", ["x"], type=kinds.GELU, approximate_tanh=True),
        layer("activation", "softplus", ["x"], type=kinds.SOFTPLUS),
    ]
    got = evaluate(
        network({"x": ["batch"]}, layers, outputs=["gelu", "gelu_tanh", "softplus"]), {"x": x}, dtype=F64
    )
    for v, exact, approx, soft in zip(x, got["gelu"], got["gelu_tanh"], got["softplus"], strict=True):
        assert exact == pytest.approx(v * 0.5 * (1 + math.erf(v / math.sqrt(2))), rel=1e-12, abs=1e-15)
        inner = math.sqrt(2 / math.pi) * (v + 0.044715 * v**3)
        assert approx == pytest.approx(0.5 * v * (1 + math.tanh(inner)), rel=1e-12, abs=1e-15)
        assert soft == pytest.approx(math.log1p(math.exp(v)), rel=1e-12)


def batch_norm_model(updatable: bool, *, biased: bool = False) -> Any:
    fields: dict[str, Any] = {"channels": 2, "epsilon": 1e-3, "momentum": 0.75}
    fields["biased_running_variance"] = biased
    fields.update(gamma=np.array([2.0, 0.5]), beta=np.array([1.0, -1.0]))
    fields.update(running_mean=np.array([0.5, -0.5]), running_variance=np.array([4.0, 0.25]))
    return network({"x": ["batch", 2, 3]}, [layer("batch_norm", "bn", ["x"], updatable=updatable, **fields)])


def test_batch_norm_inference_uses_running_statistics() -> None:
    x = np.random.default_rng(9).normal(size=(3, 2, 3))
    got = evaluate(batch_norm_model(False), {"x": x}, dtype=F64)["bn"]
    for c, (gamma, beta, mean, var) in enumerate([(2.0, 1.0, 0.5, 4.0), (0.5, -1.0, -0.5, 0.25)]):
        np.testing.assert_allclose(
            got[:, c], gamma * (x[:, c] - mean) / math.sqrt(var + 1e-3) + beta, rtol=1e-12
        )


@pytest.mark.parametrize("biased", [False, True], ids=["unbiased (PyTorch)", "biased (ONNX)"])
def test_batch_norm_training_uses_batch_statistics_and_moves_running_ones(biased: bool) -> None:
    x = np.random.default_rng(10).normal(size=(4, 2, 3)) * 3 + 2
    names = ["bn", "bn.running_mean", "bn.running_variance"]
    got = evaluate(batch_norm_model(True, biased=biased), {"x": x}, training=True, dtype=F64, outputs=names)
    for c, (gamma, beta, mean, var) in enumerate([(2.0, 1.0, 0.5, 4.0), (0.5, -1.0, -0.5, 0.25)]):
        values = x[:, c].ravel()
        batch_mean = sum(values) / len(values)
        squares = sum((v - batch_mean) ** 2 for v in values)
        batch_var = squares / len(values)  # biased: what normalises, in both conventions
        expected = gamma * (x[:, c] - batch_mean) / math.sqrt(batch_var + 1e-3) + beta
        np.testing.assert_allclose(got["bn"][:, c], expected, rtol=1e-12)
        assert got["bn.running_mean"][c] == pytest.approx(0.75 * mean + 0.25 * batch_mean)
        # PyTorch's running variance follows the unbiased estimate, squares / (n - 1).
        moved = batch_var if biased else squares / (len(values) - 1)
        assert got["bn.running_variance"][c] == pytest.approx(0.75 * var + 0.25 * moved)


def test_layer_norm_normalises_each_example_over_trailing_axes() -> None:
    x = np.random.default_rng(11).normal(size=(3, 2, 4))
    gamma, beta = np.arange(1.0, 9.0).reshape(2, 4), np.ones((2, 4))
    fields: dict[str, Any] = {"normalized_shape": [2, 4], "epsilon": 1e-5, "gamma": gamma, "beta": beta}
    got = evaluate(
        network({"x": ["batch", 2, 4]}, [layer("layer_norm", "ln", ["x"], **fields)]), {"x": x}, dtype=F64
    )
    for n in range(3):
        values = x[n].ravel()
        mean = values.sum() / 8
        std = math.sqrt(((values - mean) ** 2).sum() / 8 + 1e-5)
        np.testing.assert_allclose(got["ln"][n], (x[n] - mean) / std * gamma + beta, rtol=1e-12)


def dense_model() -> Any:
    fields: dict[str, Any] = {"input_channels": 3, "output_channels": 2, "has_bias": True}
    fields.update(weights=np.array([[1.0, 2.0, 3.0], [0.0, -1.0, 0.5]]), bias=np.array([0.25, -0.25]))
    return network({"x": ["batch", 3]}, [layer("inner_product", "fc", ["x"], **fields)])


def test_overrides_replace_weights_by_layer_dot_field() -> None:
    x = np.array([[1.0, -2.0, 0.5]])
    weights = np.array([[0.5, 0.5, 0.5], [1.0, 0.0, -1.0]])
    got = evaluate(dense_model(), {"x": x}, dtype=F64, overrides={"fc.weights": weights})["fc"]
    assert got.dtype == F64
    expected = [sum(weights[m, i] * x[0, i] for i in range(3)) + [0.25, -0.25][m] for m in range(2)]
    assert got[0].tolist() == pytest.approx(expected)


def test_misspelt_override_is_refused_with_the_weight_names() -> None:
    with pytest.raises(MlspecError, match=r"'fc.weight' names no weight; weights are: fc.bias, fc.weights"):
        evaluate(dense_model(), {"x": np.zeros((1, 3))}, overrides={"fc.weight": np.zeros((2, 3))})


def test_dropout_in_training_needs_its_mask() -> None:
    model = network({"x": ["batch", 4]}, [layer("dropout", "drop", ["x"], rate=0.25)])
    x = np.arange(8.0).reshape(2, 4)
    np.testing.assert_array_equal(evaluate(model, {"x": x})["drop"], x)
    with pytest.raises(MlspecError, match=r'layers\["drop"\].*dropout_masks'):
        evaluate(model, {"x": x}, training=True)
    mask = np.array([[True, False, True, True], [False, False, True, True]])
    got = evaluate(model, {"x": x}, training=True, dtype=F64, dropout_masks={"drop": mask})["drop"]
    np.testing.assert_allclose(got, np.where(mask, x / 0.75, 0.0))


def test_errors_name_the_missing_feed_and_the_unknown_output() -> None:
    with pytest.raises(MlspecError, match="feed 'x' is missing"):
        evaluate(dense_model(), {"y": np.zeros((1, 3))})
    with pytest.raises(MlspecError, match=r"no tensor named 'nope'.*fc"):
        evaluate(dense_model(), {"x": np.zeros((1, 3))}, outputs=["nope"])


def test_classifier_label_is_the_label_of_the_most_probable_class() -> None:
    model = dense_model()
    model.network.layers.append(layer("softmax", "probs", ["fc"]))
    model.classifier.string_labels.values.extend(["left", "right"])
    model.classifier.predicted_feature_name = "label"
    model.classifier.predicted_probabilities_name = "probs"
    x = np.array([[1.0, 1.0, 1.0], [-1.0, -1.0, -1.0]])  # fc: [6.25, -0.75] and [-5.75, 0.25]
    got = evaluate(model, {"x": x})
    assert got["label"].tolist() == ["left", "right"]
    assert set(got) == {"fc", "probs", "label"}


def test_every_kind_of_the_catalogue_has_a_reference() -> None:
    assert set(LAYER_FUNCTIONS) == set(KINDS)
