"""Whole random networks, inference and training graphs, against the reference.

Single-layer tests cannot catch interactions: a dense layer choosing Gemm from shapes inferred
through earlier layers, rewrites feeding each other, skip connections meeting broadcasting.
Each seed draws a chain over an image-like input (convolution, pooling, batch norm, every
activation, skip adds and products, concat, transposes, dropout), closed by layer norm and a
dense softmax head. Every weighted layer is updatable, so in the training graph every layer
after the first convolution is on the training path and takes its training form.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mlspec._proto import layers_pb2, model_pb2
from mlspec.backends.ort_training.forms import ORT_FORMS
from mlspec.convert import build_graph
from mlspec.reference import evaluate
from tests.convert.forward_check import assert_close, assert_forward_matches, check_contract, run_onnx
from tests.support.specs import add_loss, layer, network, padding

F32 = np.float32
Activation = layers_pb2.ActivationLayer.ActivationType
ACTIVATIONS = [value for value in Activation.values() if value != Activation.ACTIVATION_TYPE_UNSPECIFIED]
# Activations and pooling are listed twice: they have the most variants (and rewrites) to meet.
STEPS = ["conv", "pool", "pool", "batch_norm", "activation", "activation", "skip_add", "skip_multiply"]
STEPS += ["concat", "transpose", "dropout"]


class Chain:
    """Appends layers to a running [batch, channels, size, size] tensor, tracking its shape."""

    def __init__(self, rng: np.random.Generator, channels: int, size: int) -> None:
        self.rng = rng
        self.layers: list[layers_pb2.Layer] = []
        self.tensor, self.channels, self.size = "x", channels, size

    def add(self, kind: str, inputs: list[str] | None = None, **fields: Any) -> None:
        name = f"l{len(self.layers)}_{kind}"
        self.layers.append(layer(kind, name, inputs or [self.tensor], updatable=True, **fields))
        self.tensor = name

    def normal(self, *shape: int, scale: float = 1.0) -> np.ndarray[Any, Any]:
        return (self.rng.normal(size=shape) * scale).astype(F32)

    def conv(self) -> None:
        out, stride = int(self.rng.integers(1, 4)), int(self.rng.integers(1, 3))
        fields: dict[str, Any] = {
            "input_channels": self.channels,
            "output_channels": out,
            "kernel_shape": [3, 3],
        }
        fields.update(strides=[stride] * 2, padding=padding("same"), has_bias=True)
        fields.update(weights=self.normal(out, self.channels, 3, 3, scale=0.5), bias=self.normal(out))
        self.add("convolution", **fields)
        self.channels, self.size = out, -(-self.size // stride)

    def step(self, choice: str) -> None:
        channels = self.channels
        if choice == "conv":
            self.conv()
        elif choice == "pool" and self.size >= 4:
            kind = layers_pb2.PoolingLayer.MAX if self.rng.integers(2) else layers_pb2.PoolingLayer.AVERAGE
            self.add("pooling", type=kind, kernel_shape=[2, 2], strides=[2, 2], padding=padding("valid"))
            self.size //= 2
        elif choice == "batch_norm":
            stats: dict[str, Any] = {"channels": channels, "epsilon": 1e-3, "momentum": 0.9}
            stats.update(
                gamma=self.normal(channels), beta=self.normal(channels), running_mean=self.normal(channels)
            )
            stats["running_variance"] = self.rng.uniform(0.5, 2.0, size=channels).astype(F32)
            self.add("batch_norm", **stats)
        elif choice == "activation":
            self.add("activation", type=int(self.rng.choice(ACTIVATIONS)), alpha=-0.4, beta=0.7)
        elif choice in ("skip_add", "skip_multiply", "concat"):
            before = self.tensor
            self.add("activation", type=Activation.TANH)
            merge = {"skip_add": "add", "skip_multiply": "multiply", "concat": "concat"}[choice]
            self.add(merge, inputs=[before, self.tensor])
            self.channels *= 2 if merge == "concat" else 1
        elif choice == "transpose":
            self.add("transpose", perm=[0, 1, 3, 2])
        elif choice == "dropout":
            self.add("dropout", rate=0.0)  # a random mask could not be compared


def random_network(seed: int) -> tuple[model_pb2.Model, np.ndarray[Any, Any]]:
    rng = np.random.default_rng(seed)
    channels, size = int(rng.integers(1, 4)), int(rng.integers(5, 9))
    chain = Chain(rng, channels, size)
    chain.conv()
    for choice in rng.choice(STEPS, size=int(rng.integers(3, 8))):
        chain.step(str(choice))
    chain.add("flatten")
    features = chain.channels * chain.size * chain.size
    norm: dict[str, Any] = {"normalized_shape": [features], "epsilon": 1e-5}
    chain.add("layer_norm", gamma=chain.normal(features), beta=chain.normal(features), **norm)
    dense: dict[str, Any] = {"input_channels": features, "output_channels": 3, "has_bias": True}
    chain.add("inner_product", weights=chain.normal(3, features, scale=0.3), bias=chain.normal(3), **dense)
    chain.add("softmax")
    model = network({"x": ["batch", channels, size, size]}, chain.layers)
    add_loss(model, chain.tensor, ["batch", 3])
    return model, rng.normal(size=(4, channels, size, size)).astype(F32)


@pytest.mark.parametrize("seed", range(12))
def test_random_network_inference_graph(seed: int) -> None:
    model, x = random_network(seed)
    assert_forward_matches(model, {"x": x})


@pytest.mark.parametrize("seed", range(12))
def test_random_network_training_graph(seed: int) -> None:
    """Training forms: batch statistics in batch norm, rewrites, average pooling as Conv."""
    model, x = random_network(seed)
    emitted = build_graph(model, training=True, forms=ORT_FORMS).onnx_model
    check_contract(emitted, model)
    got = run_onnx(emitted, {"x": x})
    expected = evaluate(model, {"x": x}, training=True, dtype=np.float64, outputs=list(got))
    for name, value in got.items():
        assert_close(value, expected[name], name)
