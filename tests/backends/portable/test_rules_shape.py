"""Gradients of the value-moving ops and dropout against central finite differences."""

from __future__ import annotations

import numpy as np
import pytest
from onnx import helper, numpy_helper

from tests.backends.portable.gradcheck import analytic_gradients, check_gradients, forward_model, rand
from tests.support.onnx_nodes import make_node


def _ints(*values: int) -> np.ndarray:
    return np.array(values, dtype=np.int64)


@pytest.mark.parametrize(
    ("op", "extra", "attrs"),
    [
        ("Reshape", {"s": _ints(0, 6, 2)}, {}),
        ("Flatten", {}, {"axis": 2}),
        ("Unsqueeze", {"s": _ints(1, -1)}, {}),
        ("Transpose", {}, {"perm": [2, 0, 1]}),
        ("Transpose", {}, {}),
    ],
)
def test_reshapes_and_transposes(op: str, extra: dict[str, np.ndarray], attrs: dict[str, object]) -> None:
    node = make_node(op, ["x", *extra], ["y"], attrs)
    check_gradients([node], {"x": rand(2, 3, 4)}, ["x"], constants=extra, symbolic_batch=["x"])


def test_squeeze() -> None:
    node = helper.make_node("Squeeze", ["x", "axes"], ["y"])
    check_gradients([node], {"x": rand(3, 1, 4)}, ["x"], constants={"axes": _ints(1)})


@pytest.mark.parametrize("symbolic", [False, True])
def test_concat_and_split(symbolic: bool) -> None:
    inputs = {"a": rand(2, 3, seed=1), "b": rand(2, 1, seed=2), "c": rand(2, 4, seed=3)}
    batch = list(inputs) if symbolic else []
    check_gradients(
        [helper.make_node("Concat", list(inputs), ["y"], axis=1)], inputs, list(inputs), symbolic_batch=batch
    )
    nodes = [
        helper.make_node("Split", ["x", "sizes"], ["p", "q", "r"], axis=-1),
        helper.make_node("Mul", ["p", "r"], ["y"]),  # q gets no gradient: zeros in its place
    ]
    check_gradients(nodes, {"x": rand(3, 6)}, ["x"], constants={"sizes": _ints(2, 2, 2)})


@pytest.mark.parametrize(
    ("starts", "ends", "axes", "steps"),
    [((1,), (3,), (1,), (1,)), ((0, -1), (2, -100), (0, 2), (1, -2)), ((1,), (1000,), (-1,), (2,))],
)
def test_slice(
    starts: tuple[int, ...], ends: tuple[int, ...], axes: tuple[int, ...], steps: tuple[int, ...]
) -> None:
    constants = {"s": _ints(*starts), "e": _ints(*ends), "a": _ints(*axes), "t": _ints(*steps)}
    node = helper.make_node("Slice", ["x", "s", "e", "a", "t"], ["y"])
    check_gradients([node], {"x": rand(3, 4, 5)}, ["x"], constants=constants)


def test_gather_sums_repeated_ids() -> None:
    ids = np.array([[0, 3, 3], [1, 3, 0]], dtype=np.int64)
    node = helper.make_node("Gather", ["table", "ids"], ["y"], axis=0)
    check_gradients([node], {"table": rand(5, 2), "ids": ids}, ["table"], symbolic_batch=["ids"])


def test_dropout_reuses_the_forward_mask() -> None:
    """With a declared or an undeclared mask, dX = dY * mask / (1 - ratio) for the same draw."""
    x = rand(4, 50).astype(np.float32)
    constants = {"ratio": np.array(0.3, np.float32), "mode": np.array(True)}
    for outputs in (["d", "mask"], ["d"]):
        nodes = [
            helper.make_node("Dropout", ["x", "ratio", "mode"], outputs, seed=3),
            helper.make_node("Identity", ["d"], ["y"]),
        ]
        model = forward_model(nodes, {"x": x}, "y", constants=constants)
        (grad,) = analytic_gradients(model, {"x": x}, ["x"]).values()
        kept = grad != 0
        assert 0.5 < kept.mean() < 0.9
        weights = {t.name: t for t in model.graph.initializer}["loss_weights"]
        expected = numpy_helper.to_array(weights) / 0.7
        np.testing.assert_allclose(grad[kept], expected[kept], rtol=1e-6)
