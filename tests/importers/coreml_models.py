"""Updatable Core ML models made with coremltools' NeuralNetworkBuilder, as Core ML users make them
(the recipe of Apple's on-device training guide: make_updatable, a loss, an optimizer, epochs)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from coremltools.models import datatypes
from coremltools.models.neural_network import AdamParams, NeuralNetworkBuilder, SgdParams
from coremltools.models.utils import save_spec

LABELS = ["rock", "paper", "scissors"]


@dataclass
class CnnWeights:
    """Weights in the layouts coremltools' builder takes (conv: height, width, in, out)."""

    conv: np.ndarray
    conv_bias: np.ndarray
    dense: np.ndarray
    dense_bias: np.ndarray


def cnn_classifier(path: Path) -> tuple[Any, CnnWeights]:
    """image [3, 6, 6] -> conv 3x3 same -> relu -> max pool 2 -> flatten -> dense -> softmax."""
    rng = np.random.default_rng(11)
    weights = CnnWeights(
        conv=rng.standard_normal((3, 3, 3, 4)).astype(np.float32) * 0.4,
        conv_bias=rng.standard_normal(4).astype(np.float32) * 0.1,
        dense=rng.standard_normal((3, 36)).astype(np.float32) * 0.3,
        dense_bias=rng.standard_normal(3).astype(np.float32) * 0.1,
    )
    builder = NeuralNetworkBuilder(
        [("image", datatypes.Array(3, 6, 6))], [("labelProbability", datatypes.Array(3))], mode="classifier"
    )
    builder.add_convolution(
        "conv",
        kernel_channels=3,
        output_channels=4,
        height=3,
        width=3,
        stride_height=1,
        stride_width=1,
        border_mode="same",
        groups=1,
        W=weights.conv,
        b=weights.conv_bias,
        has_bias=True,
        input_name="image",
        output_name="conv_out",
    )
    builder.add_activation("relu", "RELU", "conv_out", "relu_out")
    builder.add_pooling(
        "pool", 2, 2, 2, 2, "MAX", padding_type="VALID", input_name="relu_out", output_name="pooled"
    )
    builder.add_flatten("flatten", 0, "pooled", "flat")
    builder.add_inner_product(
        "dense",
        W=weights.dense,
        b=weights.dense_bias,
        input_channels=36,
        output_channels=3,
        has_bias=True,
        input_name="flat",
        output_name="logits",
    )
    builder.add_softmax("softmax", "logits", "labelProbability")
    builder.set_class_labels(LABELS)
    builder.make_updatable(["dense", "conv"])
    builder.set_categorical_cross_entropy_loss("lossLayer", input="labelProbability")
    params = AdamParams(lr=0.01, batch=4, beta1=0.85, beta2=0.995, eps=1e-7)
    params.set_batch(4, [2, 4, 8])
    params.set_lr(0.01, 0.0001, 0.5)
    builder.set_adam_optimizer(params)
    builder.set_epochs(6, [1, 6, 20])
    builder.set_shuffle(seed=7)
    builder.spec.description.trainingInput[0].shortDescription = "Example image"
    builder.spec.description.trainingInput[1].shortDescription = "True label"
    builder.spec.description.metadata.author = "tests"
    save_spec(builder.spec, str(path))
    return builder.spec, weights


def mlp_regressor(path: Path) -> Any:
    """x [4] -> dense 5 -> tanh -> dense 2, trained with MSE and SGD."""
    rng = np.random.default_rng(5)
    builder = NeuralNetworkBuilder([("x", datatypes.Array(4))], [("y", datatypes.Array(2))], mode="regressor")
    builder.add_inner_product(
        "hidden",
        W=rng.standard_normal((5, 4)).astype(np.float32),
        b=np.zeros(5, np.float32),
        input_channels=4,
        output_channels=5,
        has_bias=True,
        input_name="x",
        output_name="h",
    )
    builder.add_activation("tanh", "TANH", "h", "t")
    builder.add_inner_product(
        "out",
        W=rng.standard_normal((2, 5)).astype(np.float32),
        b=None,
        input_channels=5,
        output_channels=2,
        has_bias=False,
        input_name="t",
        output_name="y",
    )
    builder.make_updatable(["out"])
    builder.set_mean_squared_error_loss("mse", input_feature=("y", datatypes.Array(2)))
    sgd = SgdParams(lr=0.1, batch=2, momentum=0.25)
    sgd.set_lr(0.1, 0.001, 0.9)
    sgd.set_batch(2, [1, 2, 4])
    sgd.set_momentum(0.25, 0.0, 0.75)
    builder.set_sgd_optimizer(sgd)
    builder.set_epochs(3)
    save_spec(builder.spec, str(path))
    return builder.spec


def conv_forward_numpy(images: np.ndarray, weights: CnnWeights) -> np.ndarray:
    """The CNN's probabilities computed directly from the builder-layout weights."""
    padded = np.pad(images.astype(np.float64), ((0, 0), (0, 0), (1, 1), (1, 1)))
    batch, _, height, width = images.shape
    conv = np.zeros((batch, 4, height, width))
    for row in range(height):
        for col in range(width):
            window = padded[:, :, row : row + 3, col : col + 3]  # [N, in, 3, 3]
            conv[:, :, row, col] = np.einsum("nchw,hwco->no", window, weights.conv)
    conv = np.maximum(conv + weights.conv_bias[None, :, None, None], 0)
    pooled = conv.reshape(batch, 4, 3, 2, 3, 2).max(axis=(3, 5))
    logits = pooled.reshape(batch, 36) @ weights.dense.T + weights.dense_bias
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities: npt.NDArray[np.float64] = exp / exp.sum(axis=1, keepdims=True)
    return probabilities
