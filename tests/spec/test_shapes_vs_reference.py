"""Inferred shapes agree with the shapes the numpy reference evaluator actually produces.

The evaluator computes every kind from layers.proto independently of the shape rules, so a
disagreement means one of the two misreads the schema.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mlspec._proto import layers_pb2, model_pb2, tensor_pb2
from mlspec.reference import evaluate
from mlspec.spec.shapes import infer_shapes
from mlspec.spec.validate import find_problems
from mlspec.spec.weights import make_tensor
from tests.support.specs import tensor_feature, weights

BATCH = 3


def build(
    kind: str, input_dims: list[int | str], fields: dict[str, Any], int_input: bool = False
) -> model_pb2.Model:
    model = model_pb2.Model(spec_version=1)
    dtype = tensor_pb2.INT64 if int_input else tensor_pb2.FLOAT32
    model.description.inputs.append(tensor_feature("x", input_dims, dtype))
    layer = model.network.layers.add(name="l", inputs=["x"], outputs=["y"])
    message = getattr(layer, kind)
    message.SetInParent()
    for key, value in fields.items():
        if key == "padding":
            message.padding.CopyFrom(value)
        elif key == "global":
            setattr(message, "global", value)
        elif isinstance(value, list):
            getattr(message, key).extend(value)
        else:
            setattr(message, key, value)
    _add_weights(layer)
    return model


def _add_weights(layer: layers_pb2.Layer) -> None:
    kind = layer.WhichOneof("kind")
    if kind == "inner_product":
        spec = layer.inner_product
        spec.weights.CopyFrom(weights(spec.output_channels, spec.input_channels))
    elif kind == "convolution":
        conv = layer.convolution
        per_group = conv.input_channels // (conv.groups or 1)
        conv.weights.CopyFrom(weights(conv.output_channels, per_group, *conv.kernel_shape))
    elif kind == "batch_norm":
        for field in ("gamma", "beta", "running_mean"):
            getattr(layer.batch_norm, field).CopyFrom(weights(layer.batch_norm.channels))
        layer.batch_norm.running_variance.CopyFrom(
            make_tensor(np.ones(layer.batch_norm.channels, np.float32))
        )
    elif kind == "layer_norm":
        layer.layer_norm.gamma.CopyFrom(weights(*layer.layer_norm.normalized_shape))
        layer.layer_norm.beta.CopyFrom(weights(*layer.layer_norm.normalized_shape))
    elif kind == "embedding":
        layer.embedding.weights.CopyFrom(weights(layer.embedding.vocab_size, layer.embedding.embedding_dim))


def padding(kind: str, pads: list[int] | None = None) -> layers_pb2.Padding:
    message = layers_pb2.Padding()
    if kind == "same":
        message.same.SetInParent()
    elif kind == "explicit":
        message.explicit.pads.extend(pads or [])
    return message


MAX, AVG = layers_pb2.PoolingLayer.MAX, layers_pb2.PoolingLayer.AVERAGE
CASES: list[tuple[str, list[int | str], dict[str, Any]]] = [
    ("inner_product", ["batch", 5], {"input_channels": 5, "output_channels": 2}),
    ("inner_product", ["batch", 4, 5], {"input_channels": 5, "output_channels": 3}),
    (
        "convolution",
        ["batch", 2, 9],
        {"input_channels": 2, "output_channels": 4, "kernel_shape": [3], "strides": [2]},
    ),
    (
        "convolution",
        ["batch", 4, 7, 8],
        {"input_channels": 4, "output_channels": 2, "kernel_shape": [3, 2], "groups": 2, "dilations": [2, 1]},
    ),
    (
        "convolution",
        ["batch", 3, 7, 7],
        {
            "input_channels": 3,
            "output_channels": 3,
            "kernel_shape": [3, 3],
            "groups": 3,
            "padding": padding("same"),
        },
    ),
    (
        "convolution",
        ["batch", 1, 6, 5],
        {
            "input_channels": 1,
            "output_channels": 2,
            "kernel_shape": [2, 2],
            "strides": [2, 2],
            "padding": padding("explicit", [1, 0, 0, 1]),
        },
    ),
    ("pooling", ["batch", 2, 8, 8], {"type": MAX, "kernel_shape": [2, 2], "strides": [2, 2]}),
    ("pooling", ["batch", 2, 9], {"type": AVG, "kernel_shape": [3], "padding": padding("same")}),
    ("pooling", ["batch", 2, 5, 6], {"type": AVG, "global": True}),
    ("batch_norm", ["batch", 3, 4], {"channels": 3, "epsilon": 1e-5}),
    ("activation", ["batch", 4], {"type": layers_pb2.ActivationLayer.HARD_SWISH}),
    ("softmax", ["batch", 3, 4], {"axis": 1}),
    ("flatten", ["batch", 2, 3, 4], {"axis": 2}),
    ("reshape", ["batch", 2, 6], {"target_shape": [3, -1]}),
    ("transpose", ["batch", 2, 5], {"perm": [0, 2, 1]}),
    ("dropout", ["batch", 4], {"rate": 0.0}),
    ("layer_norm", ["batch", 3, 4], {"normalized_shape": [3, 4], "epsilon": 1e-5}),
]


@pytest.mark.parametrize(("kind", "dims", "fields"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_single_layer(kind: str, dims: list[int | str], fields: dict[str, Any]) -> None:
    model = build(kind, dims, fields)
    assert find_problems(model) == []
    shape = [BATCH if isinstance(d, str) else d for d in dims]
    feed = np.random.default_rng(1).standard_normal(shape).astype(np.float32)
    produced = evaluate(model, {"x": feed}, outputs=["y"])["y"]
    inferred = infer_shapes(model)["y"]
    assert inferred.dims is not None
    assert tuple(BATCH if d == "batch" else d for d in inferred.dims) == produced.shape


def test_embedding() -> None:
    model = build("embedding", ["batch", 4], {"vocab_size": 7, "embedding_dim": 5}, int_input=True)
    assert find_problems(model) == []
    ids = np.random.default_rng(2).integers(0, 7, (BATCH, 4))
    produced = evaluate(model, {"x": ids}, outputs=["y"])["y"]
    inferred = infer_shapes(model)["y"]
    assert inferred.dims == ("batch", 4, 5) and produced.shape == (BATCH, 4, 5)


@pytest.mark.parametrize("kind", ["concat", "add", "multiply"])
def test_joining_layers(kind: str) -> None:
    model = model_pb2.Model(spec_version=1)
    model.description.inputs.append(tensor_feature("a", ["batch", 2, 3]))
    model.description.inputs.append(tensor_feature("b", ["batch", 2, 3] if kind == "concat" else [3]))
    layer = model.network.layers.add(name="l", inputs=["a", "b"], outputs=["y"])
    getattr(layer, kind).SetInParent()
    rng = np.random.default_rng(3)
    feeds = {
        "a": rng.standard_normal((BATCH, 2, 3)),
        "b": rng.standard_normal((BATCH, 2, 3) if kind == "concat" else 3),
    }
    produced = evaluate(model, feeds, outputs=["y"])["y"]
    inferred = infer_shapes(model)["y"]
    assert inferred.dims is not None
    assert tuple(BATCH if d == "batch" else d for d in inferred.dims) == produced.shape
