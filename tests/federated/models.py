"""The federated tests' model and data: an MLP on scikit-learn's 8x8 digits (shipped in its wheel)."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from sklearn.datasets import load_digits

from mlspec._proto import model_pb2
from mlspec.builder import NetworkBuilder, SgdParams

Data = dict[str, npt.NDArray[np.generic]]


def digits() -> tuple[Data, Data]:
    """1,400 training and 397 test examples, pixels scaled to [0, 1], string labels."""
    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    x, y = (x[order] / 16.0).astype(np.float32), y[order].astype(str)
    return {"x": x[:1400], "label": y[:1400]}, {"x": x[1400:], "label": y[1400:]}


def mlp(*, epochs: int = 1) -> model_pb2.Model:
    """64 -> 32 relu -> 10 softmax, SGD lr 0.2 (allowed [0.001, 0.5]) momentum 0.5, batch 16."""
    builder = NetworkBuilder(class_labels=[str(d) for d in range(10)], seed=0)
    builder.add_input("x", [64])
    builder.add_inner_product("hidden", "x", 32)
    builder.add_activation("relu", "hidden", "relu")
    builder.add_inner_product("out", "relu", 10)
    builder.add_softmax("probs", "out")
    builder.make_updatable(["hidden", "out"])
    builder.set_loss("categorical_cross_entropy", "probs")
    params = SgdParams(lr=0.2, batch=16, momentum=0.5)
    params.set_lr(0.2, (0.001, 0.5))
    params.set_batch(16, [8, 16, 32])
    builder.set_optimizer(params)
    builder.set_epochs(epochs, (1, 100))
    builder.set_shuffle(True)
    builder.set_seed(0)
    return builder.spec
