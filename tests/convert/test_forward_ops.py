"""Forward numerics of activations, softmax, shape and elementwise ops, dropout and generic nodes."""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import pytest

from mlspec._proto import layers_pb2
from mlspec.spec.weights import make_tensor
from tests.convert.forward_check import assert_forward_matches
from tests.support.specs import layer, network, tensor_type

F32 = np.float32
ActivationType = layers_pb2.ActivationLayer.ActivationType
ACTIVATIONS = [name for name in ActivationType.keys() if name != "ACTIVATION_TYPE_UNSPECIFIED"]  # noqa: SIM118


def activation_inputs(rng: np.random.Generator) -> np.ndarray[Any, Any]:
    """Ordinary values plus the far tails, where exp-based formulas overflow or underflow."""
    tails = [-40.0, -25.0, -3.0, 0.0, 3.0, 25.0, 40.0, 1e-3]
    values = np.concatenate([rng.normal(scale=3.0, size=40), tails])
    return values.reshape(2, 3, 8).astype(F32)


def activation_fields(name: str, rng: np.random.Generator, approximate: bool = False) -> dict[str, Any]:
    alpha, beta = float(rng.uniform(0.05, 1.5)), float(rng.uniform(-1.0, 1.0))
    if name == "CLIP":
        beta = alpha + float(rng.uniform(0.5, 3.0))
        alpha = -alpha
    return {"type": ActivationType.Value(name), "alpha": alpha, "beta": beta, "approximate_tanh": approximate}


@pytest.mark.parametrize("name", ACTIVATIONS)
@pytest.mark.parametrize("seed", range(2))
def test_activation(name: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    fields = activation_fields(name, rng, approximate=bool(seed))
    model = network({"x": ["batch", 3, 8]}, [layer("activation", "act", ["x"], **fields)])
    assert_forward_matches(model, {"x": activation_inputs(rng)})


@pytest.mark.parametrize("axis", [0, 1, -1, -2])
def test_softmax(axis: int) -> None:
    rng = np.random.default_rng(axis + 5)
    model = network({"x": ["batch", 4, 5]}, [layer("softmax", "softmax", ["x"], axis=axis)])
    assert_forward_matches(model, {"x": (rng.normal(size=(3, 4, 5)) * 4).astype(F32)})


@pytest.mark.parametrize("axis", [0, 1, 2, 3, -1, -2])
def test_flatten(axis: int) -> None:
    rng = np.random.default_rng(abs(axis))
    model = network({"x": ["batch", 2, 3, 4]}, [layer("flatten", "flat", ["x"], axis=axis)])
    assert_forward_matches(model, {"x": rng.normal(size=(2, 2, 3, 4)).astype(F32)})


@pytest.mark.parametrize("target", [[24], [4, 6], [2, -1], [-1, 3, 2], [1, 24, 1]])
def test_reshape(target: list[int]) -> None:
    rng = np.random.default_rng(len(target))
    model = network({"x": ["batch", 2, 3, 4]}, [layer("reshape", "reshape", ["x"], target_shape=target)])
    assert_forward_matches(model, {"x": rng.normal(size=(3, 2, 3, 4)).astype(F32)})


@pytest.mark.parametrize("seed", range(4))
def test_transpose(seed: int) -> None:
    rng = np.random.default_rng(seed)
    perm = [int(p) for p in rng.permutation(4)]  # the batch axis may move too
    model = network({"x": [2, 3, 4, 5]}, [layer("transpose", "transpose", ["x"], perm=perm)])
    assert_forward_matches(model, {"x": rng.normal(size=(2, 3, 4, 5)).astype(F32)})


@pytest.mark.parametrize(("axis", "count"), [(0, 2), (1, 3), (2, 2), (-1, 3), (-2, 2)])
def test_concat(axis: int, count: int) -> None:
    rng = np.random.default_rng(count * 10 + axis)
    resolved = (axis or 1) % 3
    shapes: list[list[int]] = []
    for _ in range(count):
        dims = [2, 3, 4]
        dims[resolved] = int(rng.integers(1, 5))
        shapes.append(dims)
    names = [f"x{i}" for i in range(count)]
    # Concatenating along the batch axis needs a fixed batch; otherwise keep it symbolic.
    inputs: dict[str, list[int | str]] = {
        name: ["batch", *shape[1:]] if resolved else list(shape)
        for name, shape in zip(names, shapes, strict=True)
    }
    model = network(inputs, [layer("concat", "concat", names, axis=axis)])
    feeds = {name: rng.normal(size=shape).astype(F32) for name, shape in zip(names, shapes, strict=True)}
    assert_forward_matches(model, feeds)


BROADCASTS = [
    [["batch", 3, 4], ["batch", 3, 4]],
    [["batch", 3, 4], ["batch", 1, 4]],
    [["batch", 3, 4], ["batch", 3, 1], [1, 1, 4]],
    [["batch", 2, 3, 4], [3, 1], ["batch", 1, 1, 4], [4]],
]


@pytest.mark.parametrize("kind", ["add", "multiply"])
@pytest.mark.parametrize("shapes", BROADCASTS)
def test_elementwise_broadcasting(kind: str, shapes: list[list[int | str]]) -> None:
    rng = np.random.default_rng(len(shapes))
    names = [f"x{i}" for i in range(len(shapes))]
    model = network(dict(zip(names, shapes, strict=True)), [layer(kind, kind, names)])
    feeds = {
        name: rng.normal(size=[2 if d == "batch" else int(d) for d in shape]).astype(F32)
        for name, shape in zip(names, shapes, strict=True)
    }
    assert_forward_matches(model, feeds)


def test_dropout_is_identity_in_inference() -> None:
    rng = np.random.default_rng(0)
    model = network({"x": ["batch", 5]}, [layer("dropout", "drop", ["x"], rate=0.5)])
    x = rng.normal(size=(4, 5)).astype(F32)
    got = assert_forward_matches(model, {"x": x})
    np.testing.assert_array_equal(got["drop"], x)


def node_layer(op_type: str, inputs: list[str], node_inputs: list[str], **extra: Any) -> layers_pb2.Layer:
    """A generic onnx_node layer; extra: constants (name -> array), attributes, output dims."""
    built = layer("onnx_node", "node", inputs, op_type=op_type, node_inputs=node_inputs)
    for name, value in extra.get("constants", {}).items():
        built.onnx_node.constants.add(name=name, tensor=make_tensor(value))
    built.onnx_node.attributes.extend(a.SerializeToString() for a in extra.get("attributes", []))
    built.onnx_node.output_types.append(tensor_type(extra["dims"]))
    return built


GENERIC_NODES = [
    ("Neg", ["x"], {}, []),
    ("Mul", ["x", "factor"], {"factor": np.array([0.5, -2.0, 3.0], dtype=F32)}, []),
    ("Pow", ["x", "exponent"], {"exponent": np.array(2.0, dtype=np.float16)}, []),
    ("LeakyRelu", ["x"], {}, [onnx.helper.make_attribute("alpha", 0.3)]),
    ("Clip", ["x", "", "upper"], {"upper": np.array(0.25, dtype=F32)}, []),
]


@pytest.mark.parametrize("case", GENERIC_NODES)
def test_onnx_node(case: tuple[str, list[str], dict[str, Any], list[Any]]) -> None:
    op_type, node_inputs, constants, attributes = case
    rng = np.random.default_rng(len(op_type))
    built = node_layer(
        op_type, ["x"], node_inputs, constants=constants, attributes=attributes, dims=["batch", 3]
    )
    model = network({"x": ["batch", 3]}, [built])
    assert_forward_matches(model, {"x": rng.normal(size=(4, 3)).astype(F32)})


def test_onnx_node_with_integer_constant_feeding_a_typed_layer() -> None:
    """Reshape's int64 shape constant stays int64; the dense layer after it sees the new shape."""
    rng = np.random.default_rng(1)
    shape = {"shape": np.array([-1, 6])}
    reshape = node_layer("Reshape", ["x"], ["x", "shape"], constants=shape, dims=["batch", 6])
    reshape.outputs[:] = ["flat"]
    weights, bias = rng.normal(size=(2, 6)).astype(F32), rng.normal(size=2).astype(F32)
    sizes: dict[str, Any] = {"input_channels": 6, "output_channels": 2, "has_bias": True}
    dense = layer("inner_product", "fc", ["flat"], weights=weights, bias=bias, **sizes)
    model = network({"x": ["batch", 2, 3]}, [reshape, dense])
    got = assert_forward_matches(model, {"x": rng.normal(size=(3, 2, 3)).astype(F32)})
    assert got["fc"].shape == (3, 2)
