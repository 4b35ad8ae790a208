"""Specs and data files for the CLI tests, made with the builder as a user's script would."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import numpy.typing as npt

from mlspec._proto import model_pb2
from mlspec.builder import NetworkBuilder, SgdParams
from mlspec.spec import kinds, weights
from mlspec.spec.io import save

LABELS = ("cat", "dog", "fish")
FEATURES = 4


def classifier(*, seed: int = 0) -> model_pb2.Model:
    """x[4] -> dense 8 -> batch norm -> relu -> dense 3 ("fc2") -> softmax ("probs"); not updatable."""
    builder = NetworkBuilder(class_labels=list(LABELS), seed=seed)
    builder.add_input("x", [FEATURES])
    builder.add_inner_product("fc1", "x", 8)
    builder.add_batch_norm("bn", "fc1")
    builder.add_activation("relu", "bn", "relu")
    builder.add_inner_product("fc2", "relu", len(LABELS))
    builder.add_softmax("probs", "fc2")
    return builder.spec


def regressor() -> model_pb2.Model:
    """x[4] -> dense 2 ("out"): no classifier, so no default loss."""
    builder = NetworkBuilder(mode="regressor", seed=3)
    builder.add_input("x", [FEATURES])
    builder.add_inner_product("out", "x", 2)
    return builder.spec


def updatable_classifier() -> model_pb2.Model:
    """The classifier with fc1, bn and fc2 trainable; batch {4, 8, 16}, epochs [1, 50], lr [0, 1]."""
    builder = NetworkBuilder.edit(classifier())
    builder.make_updatable(["fc1", "bn", "fc2"])
    builder.set_loss("categorical_cross_entropy", "probs")
    params = SgdParams(lr=0.2, batch=8)
    params.set_batch(8, [4, 8, 16])
    params.set_lr(0.2, (0.0, 1.0))
    builder.set_optimizer(params)
    builder.set_epochs(3, (1, 50))
    builder.set_shuffle(True)
    builder.set_seed(0)
    return builder.spec


def write(spec: model_pb2.Model, path: Path) -> Path:
    save(spec, path)
    return path


def blobs(count: int, *, seed: int = 0) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """Three separable clusters: features and class indices."""
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, len(LABELS), count)
    x = (np.eye(len(LABELS), FEATURES)[classes] * 3.0 + rng.normal(0, 0.5, (count, FEATURES))).astype(
        np.float32
    )
    return x, classes.astype(np.int64)


def write_blobs(path: Path, count: int, *, seed: int = 0, string_labels: bool = True) -> Path:
    x, classes = blobs(count, seed=seed)
    labels = np.array(LABELS)[classes] if string_labels else classes
    np.savez(path, x=x, label=labels)
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def tensor_values(model: model_pb2.Model) -> dict[str, npt.NDArray[np.generic]]:
    """Every weight tensor by "{layer}.{field}", as numpy arrays."""
    return {
        f"{layer.name}.{field}": weights.to_numpy(tensor).copy()
        for layer in model.network.layers
        for field, tensor in kinds.layer_tensors(layer)
    }


def changed_tensors(before: model_pb2.Model, after: model_pb2.Model) -> set[str]:
    old, new = tensor_values(before), tensor_values(after)
    assert old.keys() == new.keys()
    return {name for name in old if not np.array_equal(old[name], new[name])}


# Trained by updatable_classifier() (fc1.bias sits before batch norm in training mode, so its
# gradient is zero and it may stay as it was), plus the batch-norm statistics training updates.
TRAINED = {"fc1.weights", "bn.gamma", "bn.beta", "fc2.weights", "fc2.bias"}
MAY_MOVE = {*TRAINED, "fc1.bias", "bn.running_mean", "bn.running_variance"}
