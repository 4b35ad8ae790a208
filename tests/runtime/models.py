"""Small specs for runtime tests, built with the builder so they are what users would make."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from mlspec._proto import model_pb2
from mlspec.builder import AdamParams, AdamWParams, NetworkBuilder, SgdParams
from tests.support.heads import classifier_head

LABELS = ("cat", "dog", "fish")
FEATURES = 4


def classifier(
    optimizer: SgdParams | AdamParams | None = None, *, epochs: int = 2, hidden: int = 0, seed: int = 0
) -> model_pb2.Model:
    """x[4] -> (dense+relu) -> dense[3] -> softmax, string labels, every tunable value overridable.

    Allowed values are wide (batch {1, 2, 4, 8, 16}, epochs [1, 6], lr [0, 1]) so tests can move
    each setting; the batch default is 4 and the epochs default `epochs`.
    """
    builder = NetworkBuilder(class_labels=list(LABELS), seed=seed)
    builder.add_input("x", [FEATURES])
    features = "x"
    if hidden:
        builder.add_inner_product("hidden", "x", hidden)
        builder.add_activation("relu", "hidden", "relu")
        features = "relu"
    builder.add_inner_product("fc", features, len(LABELS))
    builder.add_softmax("probs", "fc")
    builder.make_updatable(["fc", "hidden"] if hidden else ["fc"])
    builder.set_loss("categorical_cross_entropy", "probs")
    params = optimizer or default_sgd()
    params.set_batch(4, [1, 2, 4, 8, 16])
    builder.set_optimizer(params)
    builder.set_epochs(epochs, (1, 6))
    builder.set_shuffle(True)
    builder.set_seed(0)
    return builder.spec


def default_sgd() -> SgdParams:
    """SGD with every allowed range pinned here, so tests do not depend on builder defaults."""
    params = SgdParams(lr=0.1, batch=4, momentum=0.5)
    params.set_lr(0.1, (0.0, 1.0))
    params.set_momentum(0.5, (0.0, 1.0))
    params.set_weight_decay(0.0, (0.0, 1.0))
    return params


def pinned_adam() -> AdamParams:
    params = AdamParams(lr=0.05, batch=4)
    params.set_lr(0.05, (0.0, 1.0))
    params.set_beta1(0.9, (0.5, 0.99))
    params.set_beta2(0.999, (0.9, 0.9999))
    params.set_eps(1e-8, (1e-10, 0.5))
    params.set_weight_decay(0.0, (0.0, 1.0))
    return params


def regressor(
    optimizer: SgdParams | AdamParams | AdamWParams, *, clip_norm: float = 0.0, clip_value: float = 0.0
) -> model_pb2.Model:
    """x[3] -> dense[2] with an MSE loss: its gradient has a closed form for optimizer checks."""
    builder = NetworkBuilder(mode="regressor", seed=1)
    builder.add_input("x", [3])
    builder.add_inner_product("fc", "x", 2)
    builder.make_updatable(["fc"])
    builder.set_loss("mean_squared_error", "fc", target="y")
    builder.set_optimizer(optimizer)
    builder.set_epochs(1)
    builder.set_shuffle(False)
    if clip_norm:
        builder.set_gradient_clipping(max_norm=clip_norm, allowed=(0.001, 10.0))
    if clip_value:
        builder.set_gradient_clipping(max_value=clip_value, allowed=(0.001, 10.0))
    return builder.spec


def blobs(count: int, *, seed: int = 0) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.str_]]:
    """Three separable clusters with string labels, for classifier training."""
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, len(LABELS), count)
    centres = np.eye(len(LABELS), FEATURES) * 3.0
    x = (centres[classes] + rng.normal(0, 0.5, (count, FEATURES))).astype(np.float32)
    return x, np.array(LABELS)[classes]


def cnn(*, seed: int = 0) -> model_pb2.Model:
    """BNNS-style: conv -> batch norm -> relu -> max pool -> dense -> softmax on 1x6x6 images."""
    builder = NetworkBuilder(class_labels=list(LABELS), seed=seed)
    builder.add_input("image", [1, 6, 6])
    builder.add_convolution("conv", "image", 4, (3, 3), padding="same")
    builder.add_batch_norm("bn", "conv", momentum=0.8)
    builder.add_activation("relu", "bn", "relu")
    builder.add_pooling("pool", "relu", "max", (2, 2), strides=(2, 2))
    optimizer = AdamParams(lr=0.01, batch=4)
    return classifier_head(
        builder, "pool", len(LABELS), train=("conv", "bn", "fc"), optimizer=optimizer, epochs=2
    ).spec


def images(count: int, *, seed: int = 0) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """Random 1x6x6 images whose class is the brightest third of the image, as indices."""
    rng = np.random.default_rng(seed)
    x = rng.normal(1.0, 1.0, (count, 1, 6, 6)).astype(np.float32)
    classes = rng.integers(0, len(LABELS), count)
    for index, label in enumerate(classes):
        x[index, 0, :, 2 * label : 2 * label + 2] += 2.0
    return x, classes.astype(np.int64)
