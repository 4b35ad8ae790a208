"""Dense, elementwise, activation and loss-op gradients against central finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper

from tests.backends.portable.gradcheck import Tolerance, check_gradients, rand
from tests.support.onnx_nodes import make_node


def _away_from(x: np.ndarray, points: tuple[float, ...], margin: float = 0.1) -> np.ndarray:
    """Move values off the kinks, so a finite difference never straddles one."""
    for point in points:
        close = np.abs(x - point) < margin
        x = np.where(close, point + np.where(x >= point, margin, -margin), x)
    return x


@pytest.mark.parametrize("trans_a", [0, 1])
@pytest.mark.parametrize("trans_b", [0, 1])
@pytest.mark.parametrize("bias_shape", [(5,), (1, 5), (4, 5), None])
def test_gemm(trans_a: int, trans_b: int, bias_shape: tuple[int, ...] | None) -> None:
    a = rand(*((3, 4) if trans_a else (4, 3)), seed=1)
    b = rand(*((5, 3) if trans_b else (3, 5)), seed=2)
    inputs = {"a": a, "b": b}
    if bias_shape is not None:
        inputs["c"] = rand(*bias_shape, seed=3)
    node = helper.make_node("Gemm", list(inputs), ["y"], alpha=0.7, beta=1.3, transA=trans_a, transB=trans_b)
    check_gradients([node], inputs, list(inputs))


def test_gemm_with_symbolic_batch() -> None:
    inputs = {"x": rand(6, 3), "w": rand(4, 3, seed=1), "bias": rand(4, seed=2)}
    node = helper.make_node("Gemm", ["x", "w", "bias"], ["y"], transB=1)
    check_gradients([node], inputs, ["w", "bias"], symbolic_batch=["x"])


@pytest.mark.parametrize(
    ("a_shape", "b_shape"),
    [
        ((4, 3), (3, 5)),
        ((2, 4, 3), (3, 5)),
        ((2, 4, 3), (2, 3, 5)),
        ((1, 4, 3), (2, 3, 5)),
        ((3, 1, 4, 3), (2, 3, 2)),
    ],
)
def test_matmul_broadcasting_and_two_activations(a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> None:
    inputs = {"a": rand(*a_shape, seed=1), "b": rand(*b_shape, seed=2)}
    check_gradients([helper.make_node("MatMul", ["a", "b"], ["y"])], inputs, ["a", "b"])


@pytest.mark.parametrize("op", ["Add", "Sub", "Mul", "Div"])
@pytest.mark.parametrize(
    ("a_shape", "b_shape"), [((3, 4), (3, 4)), ((2, 3, 4), (4,)), ((2, 1, 4), (3, 1)), ((), (2, 3))]
)
def test_broadcasting_arithmetic(op: str, a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> None:
    a, b = rand(*a_shape, seed=1), rand(*b_shape, seed=2)
    if op == "Div":
        b = np.abs(b) + 0.5
    check_gradients([helper.make_node(op, ["a", "b"], ["y"])], {"a": a, "b": b}, ["a", "b"])


def test_broadcasting_against_a_symbolic_batch() -> None:
    inputs = {"a": rand(5, 1, 4), "b": rand(1, 3, 4, seed=2)}
    check_gradients([helper.make_node("Mul", ["a", "b"], ["y"])], inputs, ["a", "b"], symbolic_batch=["a"])


def test_tensor_read_twice_accumulates() -> None:
    """y = x * x + exp(x): three readers of x, so the gradient is the Add of their parts."""
    nodes = [
        helper.make_node("Mul", ["x", "x"], ["square"]),
        helper.make_node("Exp", ["x"], ["exp"]),
        helper.make_node("Add", ["square", "exp"], ["y"]),
    ]
    grads = check_gradients(nodes, {"x": rand(3, 4)}, ["x"])
    assert grads["x"].shape == (3, 4)


@pytest.mark.parametrize(
    "op",
    ["Neg", "Exp", "Log", "Sqrt", "Abs", "Reciprocal", "Identity", "Sigmoid", "Tanh", "Relu", "Softplus"],
)
def test_unary(op: str) -> None:
    x = _away_from(rand(3, 4), (0.0,))
    if op in ("Log", "Sqrt", "Reciprocal"):
        x = np.abs(x) + 0.2
    dtype = np.float32 if op == "Softplus" else np.float64
    tolerance: Tolerance = {"rtol": 2e-3, "atol": 2e-4} if dtype == np.float32 else {}
    check_gradients([helper.make_node(op, ["x"], ["y"])], {"x": x.astype(dtype)}, ["x"], **tolerance)


FLOAT32: Tolerance = {"rtol": 2e-3, "atol": 2e-4}


@pytest.mark.parametrize(
    ("op", "attrs", "kinks"),
    [
        ("LeakyRelu", {"alpha": 0.1}, (0.0,)),
        ("Elu", {"alpha": 0.7}, (0.0,)),
        ("HardSigmoid", {"alpha": 0.3, "beta": 0.4}, (-4 / 3, 2.0)),
        ("HardSwish", {}, (-3.0, 3.0)),
        ("Gelu", {}, ()),
        ("Gelu", {"approximate": "tanh"}, ()),
    ],
)
def test_float32_activations(op: str, attrs: dict[str, object], kinks: tuple[float, ...]) -> None:
    x = _away_from(rand(4, 6) * 2.5, kinks).astype(np.float32)
    check_gradients([make_node(op, ["x"], ["y"], attrs)], {"x": x}, ["x"], **FLOAT32)


@pytest.mark.parametrize("op", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("axis", [-1, 1, 0])
def test_softmax(op: str, axis: int) -> None:
    check_gradients([helper.make_node(op, ["x"], ["y"], axis=axis)], {"x": rand(2, 3, 4)}, ["x"])


def test_pow_by_constant_and_by_tensor() -> None:
    x = np.abs(rand(3, 4)) + 0.3
    check_gradients(
        [helper.make_node("Pow", ["x", "p"], ["y"])], {"x": x}, ["x"], constants={"p": np.array(2.5)}
    )
    check_gradients([helper.make_node("Pow", ["x", "p"], ["y"])], {"x": x, "p": np.array(1.7)}, ["x", "p"])


def test_max_min_clip_where() -> None:
    a, b = rand(3, 4, seed=1), rand(4, seed=2)
    check_gradients([helper.make_node("Max", ["a", "b"], ["y"])], {"a": a, "b": b}, ["a", "b"])
    check_gradients([helper.make_node("Min", ["a", "b"], ["y"])], {"a": a, "b": b}, ["a", "b"])
    x = _away_from(rand(3, 4), (-0.5, 0.6))
    bounds = {"low": np.array(-0.5), "high": np.array(0.6)}
    check_gradients(
        [helper.make_node("Clip", ["x", "low", "high"], ["y"])], {"x": x}, ["x"], constants=bounds
    )
    nodes = [
        helper.make_node("Greater", ["a", "b"], ["c"]),
        helper.make_node("Where", ["c", "a", "b"], ["y"]),
    ]
    check_gradients(nodes, {"a": a, "b": b}, ["a", "b"])


def test_cast_and_expand() -> None:
    """float32 in, float64 out: the loss is linear in x, so the float32 step is exact enough."""
    nodes = [
        helper.make_node("Cast", ["x"], ["x64"], to=11),
        helper.make_node("Expand", ["x64", "shape"], ["y"]),
    ]
    x = rand(3, 1).astype(np.float32)
    check_gradients(nodes, {"x": x}, ["x"], constants={"shape": np.array([2, 3, 4])}, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("op", ["ReduceSum", "ReduceMean"])
@pytest.mark.parametrize("axes", [None, [1], [0, -1]])
@pytest.mark.parametrize("keepdims", [0, 1])
def test_reductions(op: str, axes: list[int] | None, keepdims: int) -> None:
    inputs = ["x"] if axes is None else ["x", "axes"]
    constants = {} if axes is None else {"axes": np.array(axes, dtype=np.int64)}
    node = helper.make_node(op, inputs, ["y"], keepdims=keepdims)
    check_gradients([node], {"x": rand(2, 3, 4)}, ["x"], constants=constants, symbolic_batch=["x"])


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("with_log_prob", [False, True])
def test_softmax_cross_entropy(reduction: str, with_log_prob: bool) -> None:
    outputs = ["y", "log_prob"] if with_log_prob else ["y"]
    node = helper.make_node("SoftmaxCrossEntropyLoss", ["x", "labels"], outputs, reduction=reduction)
    labels = np.array([2, 0, 1, 2, 3], dtype=np.int64)
    check_gradients([node], {"x": rand(5, 4), "labels": labels}, ["x"], symbolic_batch=["x", "labels"])


def test_softmax_cross_entropy_spatial() -> None:
    node = helper.make_node("SoftmaxCrossEntropyLoss", ["x", "labels"], ["y"])
    labels = np.array([[2, 0, 1], [1, 1, 0]], dtype=np.int64)
    check_gradients([node], {"x": rand(2, 3, 3), "labels": labels}, ["x"])
