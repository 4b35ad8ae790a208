"""Convolution, pooling and normalisation gradients against central finite differences.

ONNX Runtime's CPU Conv and ConvTranspose are float32 only, so those cases run in float32 with a
loose tolerance; both ops are linear in each operand, so the float32 difference quotient is only
off by rounding. Odd sizes with strides that do not divide them are the cases that need
output_padding and the weight-gradient trim.
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from mlspec.backends.portable.autodiff import add_gradients
from tests.backends.portable.gradcheck import (
    Tolerance,
    analytic_gradients,
    check_gradients,
    forward_model,
    rand,
)

F32: Tolerance = {"rtol": 2e-3, "atol": 2e-3}


def _f32(*shape: int, seed: int = 0) -> np.ndarray:
    return rand(*shape, seed=seed, dtype=np.float32)


CONV_CASES = [
    # (input spatial, kernel, strides, dilations, pads, group)
    ((7,), (3,), (2,), (1,), (1, 0), 1),
    ((8,), (2,), (3,), (2,), (0, 2), 2),
    ((5, 6), (3, 3), (1, 1), (1, 1), (1, 1, 1, 1), 1),
    ((7, 6), (3, 2), (2, 3), (1, 1), (0, 1, 1, 0), 1),
    ((9, 7), (2, 3), (2, 2), (2, 1), (1, 0, 0, 2), 2),
    ((6, 6), (3, 3), (2, 2), (1, 1), (1, 1, 1, 1), 4),
]


@pytest.mark.parametrize(("spatial", "kernel", "strides", "dilations", "pads", "group"), CONV_CASES)
def test_conv(  # noqa: PLR0917 (one parameter per column of CONV_CASES)
    spatial: tuple[int, ...],
    kernel: tuple[int, ...],
    strides: tuple[int, ...],
    dilations: tuple[int, ...],
    pads: tuple[int, ...],
    group: int,
) -> None:
    channels, out = 4, 4 if group == 4 else 6
    inputs = {
        "x": _f32(2, channels, *spatial, seed=1),
        "w": _f32(out, channels // group, *kernel, seed=2),
        "b": _f32(out, seed=3),
    }
    node = helper.make_node(
        "Conv",
        ["x", "w", "b"],
        ["y"],
        strides=list(strides),
        dilations=list(dilations),
        pads=list(pads),
        group=group,
    )
    check_gradients([node], inputs, ["x", "w", "b"], symbolic_batch=["x"], **F32)


def test_conv_same_auto_pad() -> None:
    inputs = {"x": _f32(2, 3, 7, 5, seed=1), "w": _f32(2, 3, 3, 3, seed=2)}
    node = helper.make_node("Conv", ["x", "w"], ["y"], strides=[2, 2], auto_pad="SAME_UPPER")
    check_gradients([node], inputs, ["x", "w"], **F32)


@pytest.mark.parametrize(
    ("strides", "pads", "output_padding", "group"), [((1,), (0, 0), (0,), 1), ((2,), (1, 0), (1,), 2)]
)
def test_conv_transpose_1d(
    strides: tuple[int], pads: tuple[int, int], output_padding: tuple[int], group: int
) -> None:
    inputs = {"x": _f32(2, 4, 5, seed=1), "w": _f32(4, 6 // group, 3, seed=2), "b": _f32(6, seed=3)}
    node = helper.make_node(
        "ConvTranspose",
        ["x", "w", "b"],
        ["y"],
        strides=list(strides),
        pads=list(pads),
        output_padding=list(output_padding),
        group=group,
    )
    check_gradients([node], inputs, ["x", "w", "b"], **F32)


def test_conv_transpose_2d() -> None:
    inputs = {"x": _f32(2, 3, 4, 3, seed=1), "w": _f32(3, 2, 3, 2, seed=2)}
    node = helper.make_node(
        "ConvTranspose",
        ["x", "w"],
        ["y"],
        strides=[2, 3],
        dilations=[1, 2],
        pads=[1, 0, 0, 1],
        output_padding=[1, 2],
    )
    check_gradients([node], inputs, ["x", "w"], **F32)


@pytest.mark.parametrize(
    ("spatial", "kernel", "strides", "pads"),
    [
        ((7,), (3,), (2,), (1, 1)),
        ((6, 5), (2, 2), (2, 2), (0, 0, 0, 0)),
        ((7, 5), (3, 2), (2, 1), (1, 0, 1, 1)),
        # Windows that tile the input: the ArgMax route, without MaxPool's Indices output.
        ((8,), (2,), (2,), (0, 0)),
        ((6, 4), (2, 2), (2, 2), (0, 0, 0, 0)),
        ((6, 6), (3, 2), (3, 2), (0, 0, 0, 0)),
    ],
)
def test_max_pool(
    spatial: tuple[int, ...], kernel: tuple[int, ...], strides: tuple[int, ...], pads: tuple[int, ...]
) -> None:
    x = rand(2, 3, *spatial, seed=4)
    node = helper.make_node(
        "MaxPool", ["x"], ["y"], kernel_shape=list(kernel), strides=list(strides), pads=list(pads)
    )
    check_gradients([node], {"x": x}, ["x"], symbolic_batch=["x"])


@pytest.mark.parametrize("outputs", [["y", "indices"], ["y"]], ids=["indices", "tiled"])
def test_max_pool_ties_go_to_the_first_cell(outputs: list[str]) -> None:
    """A window of equal values sends all its gradient to its first cell, as PyTorch's CPU kernel,
    whether the rule reads MaxPool's Indices or takes the ArgMax of tiling windows; a window tied
    in its second row only sends it to that row's first cell."""
    x = np.zeros((1, 1, 2, 6), dtype=np.float32)
    x[0, 0, 0, 4:] = -1.0
    node = helper.make_node("MaxPool", ["x"], outputs, kernel_shape=[2, 2], strides=[2, 2])
    model = forward_model([node], {"x": x}, "y")
    (pool,) = (n for n in add_gradients(model, "loss", ["x"]).graph.node if n.op_type == "MaxPool")
    assert len(pool.output) == len(outputs)  # the tiled route adds no Indices output
    (grad,) = analytic_gradients(model, {"x": x}, ["x"]).values()
    assert np.count_nonzero(grad) == 3
    assert grad[0, 0, 0, 0] != 0 and grad[0, 0, 0, 2] != 0 and grad[0, 0, 1, 4] != 0


@pytest.mark.parametrize("count_include_pad", [0, 1])
@pytest.mark.parametrize(
    ("spatial", "kernel", "strides", "pads"),
    [
        ((7,), (3,), (2,), (1, 1)),
        ((6, 5), (2, 2), (2, 2), (0, 0, 0, 0)),
        ((7, 5), (3, 2), (2, 1), (1, 0, 1, 1)),
    ],
)
def test_average_pool(
    count_include_pad: int,
    spatial: tuple[int, ...],
    kernel: tuple[int, ...],
    strides: tuple[int, ...],
    pads: tuple[int, ...],
) -> None:
    node = helper.make_node(
        "AveragePool",
        ["x"],
        ["y"],
        kernel_shape=list(kernel),
        strides=list(strides),
        pads=list(pads),
        count_include_pad=count_include_pad,
    )
    check_gradients([node], {"x": _f32(2, 3, *spatial, seed=4)}, ["x"], symbolic_batch=["x"], **F32)


def test_global_max_pool_and_its_ties() -> None:
    node = helper.make_node("GlobalMaxPool", ["x"], ["y"])
    check_gradients([node], {"x": _f32(2, 3, 4, 5)}, ["x"], symbolic_batch=["x"], **F32)
    tied = np.zeros((1, 2, 3, 3), dtype=np.float32)
    model = forward_model([node], {"x": tied}, "y")
    (grad,) = analytic_gradients(model, {"x": tied}, ["x"]).values()
    assert np.count_nonzero(grad) == 2 and np.all(grad[0, :, 0, 0] != 0)


def test_global_average_pool() -> None:
    node = helper.make_node("GlobalAveragePool", ["x"], ["y"])
    check_gradients([node], {"x": _f32(2, 3, 4, 5)}, ["x"], symbolic_batch=["x"], **F32)


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (3, 2, 4, 3)])
def test_batch_norm_training_mode(shape: tuple[int, ...]) -> None:
    channels = shape[1]
    inputs = {
        "x": rand(*shape, seed=1),
        "scale": rand(channels, seed=2),
        "bias": rand(channels, seed=3),
    }
    constants = {"mean": rand(channels, seed=4), "var": np.abs(rand(channels, seed=5)) + 0.5}
    node = helper.make_node(
        "BatchNormalization",
        ["x", "scale", "bias", "mean", "var"],
        ["y", "running_mean", "running_var"],
        epsilon=1e-3,
        momentum=0.9,
        training_mode=1,
    )
    check_gradients([node], inputs, list(inputs), constants=constants, symbolic_batch=["x"])


def test_batch_norm_inference_mode() -> None:
    inputs = {"x": rand(4, 3, 5, seed=1), "scale": rand(3, seed=2), "bias": rand(3, seed=3)}
    constants = {"mean": rand(3, seed=4), "var": np.abs(rand(3, seed=5)) + 0.5}
    node = helper.make_node("BatchNormalization", ["x", "scale", "bias", "mean", "var"], ["y"], epsilon=1e-3)
    check_gradients([node], inputs, list(inputs), constants=constants)


@pytest.mark.parametrize(("shape", "axis"), [((4, 6), -1), ((2, 3, 4), -1), ((2, 3, 4), 1)])
def test_layer_norm(shape: tuple[int, ...], axis: int) -> None:
    normalized = shape[axis % len(shape) :]
    inputs = {
        "x": rand(*shape, seed=1),
        "scale": rand(*normalized, seed=2),
        "bias": rand(*normalized, seed=3),
    }
    node = helper.make_node("LayerNormalization", ["x", "scale", "bias"], ["y"], axis=axis, epsilon=1e-3)
    check_gradients([node], inputs, list(inputs), symbolic_batch=["x"], rtol=1e-5, atol=1e-7)
