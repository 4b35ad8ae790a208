"""A frozen batch norm before the updatable layers keeps its stored statistics while training.

ORT's artifact generator rewrites every BatchNormalization into a training-mode op, so a frozen
batch norm emitted as BatchNormalization would normalise each mini-batch with its own
statistics in the training model but with the stored ones in eval and inference. With the
learning rate at zero, the training loss and the eval loss of the same batch must therefore agree.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlspec.backends import to_training_artifacts
from mlspec.backends.ort_training.session import TrainingSession
from mlspec.builder import NetworkBuilder, SgdParams
from tests.support.heads import classifier_head


def _frozen_backbone_classifier() -> NetworkBuilder:
    rng = np.random.default_rng(5)
    builder = NetworkBuilder(class_labels=["a", "b", "c"], seed=3)
    builder.add_input("x", (2, 4, 4))
    builder.add_convolution("conv", "x", 3, (3, 3), padding="same")
    builder.add_batch_norm(
        "bn",
        "conv",
        running_mean=rng.normal(size=3).astype(np.float32),
        running_variance=rng.uniform(0.5, 2.0, size=3).astype(np.float32),
        gamma=rng.uniform(0.5, 1.5, size=3).astype(np.float32),
        beta=rng.normal(size=3).astype(np.float32),
    )
    return classifier_head(builder, "bn", 3, optimizer=SgdParams(lr=0.0, batch=8))


def test_frozen_batch_norm_uses_stored_statistics_in_training(tmp_path: Path) -> None:
    spec = _frozen_backbone_classifier().spec
    to_training_artifacts(spec, tmp_path / "artifacts")
    session = TrainingSession(tmp_path / "artifacts")
    rng = np.random.default_rng(9)
    feeds: dict[str, np.ndarray] = {
        "x": rng.normal(2.0, 3.0, size=(8, 2, 4, 4)).astype(np.float32),
        "label": rng.integers(0, 3, size=8).astype(np.int64),
    }
    eval_loss, _ = session.eval_step(feeds)
    train_loss = session.train_step(feeds)
    assert abs(train_loss - eval_loss) <= 1e-5 * max(1.0, abs(eval_loss))
