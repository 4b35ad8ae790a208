"""Small networks the builder tests start from, and an independent numpy forward pass for them."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from mlspec import Model
from mlspec.builder import NetworkBuilder
from mlspec.spec import graph, weights

Array = npt.NDArray[Any]


def three_class_classifier(seed: int = 0) -> NetworkBuilder:
    """features[16] -> dense 8 -> relu -> dense 3 ("classifier") -> softmax, string labels."""
    builder = NetworkBuilder(mode="classifier", class_labels=["rock", "paper", "scissors"], seed=seed)
    builder.add_input("features", (16,))
    builder.add_inner_product("hidden", "features", 8)
    builder.add_activation("relu", "hidden", "relu")
    builder.add_inner_product("classifier", "relu", 3)
    builder.add_softmax("probabilities", "classifier")
    return builder


def regressor(seed: int = 0) -> NetworkBuilder:
    """x[4] -> dense 6 -> batch norm -> tanh -> dense 2 ("out"), a plain regression network."""
    builder = NetworkBuilder(mode="regressor", seed=seed)
    builder.add_input("x", (4,))
    builder.add_inner_product("fc1", "x", 6)
    builder.add_batch_norm("bn", "fc1")
    builder.add_activation("act", "bn", "tanh")
    builder.add_inner_product("out", "act", 2)
    return builder


def tensor(model: Model, layer: str, field: str) -> Array:
    message = getattr(graph.find_layer(model, layer), graph.find_layer(model, layer).WhichOneof("kind"))
    return weights.to_numpy(getattr(message, field)).copy()


def forward(model: Model, feeds: dict[str, Array]) -> dict[str, Array]:
    """Inference for the dense / batch-norm / activation / softmax networks above, in plain numpy."""
    values: dict[str, Array] = dict(feeds)
    for layer in model.network.layers:
        kind = layer.WhichOneof("kind")
        x = values[layer.inputs[0]]
        if kind == "inner_product":
            w = tensor(model, layer.name, "weights").astype(np.float64)
            y = x @ w.T
            if layer.inner_product.has_bias:
                y = y + tensor(model, layer.name, "bias")
        elif kind == "batch_norm":
            t = {
                f: tensor(model, layer.name, f) for f in ("gamma", "beta", "running_mean", "running_variance")
            }
            y = (
                t["gamma"]
                * (x - t["running_mean"])
                / np.sqrt(t["running_variance"] + layer.batch_norm.epsilon)
            )
            y = y + t["beta"]
        elif kind == "activation":
            name = layer.activation.ActivationType.Name(layer.activation.type)
            y = np.maximum(x, 0) if name == "RELU" else np.tanh(x)
        elif kind == "softmax":
            shifted = np.exp(x - x.max(axis=-1, keepdims=True))
            y = shifted / shifted.sum(axis=-1, keepdims=True)
        elif kind == "dropout":
            y = x
        else:
            raise AssertionError(f"test forward does not know {kind}")
        values[layer.outputs[0]] = np.asarray(y, dtype=np.float64)
    return values
