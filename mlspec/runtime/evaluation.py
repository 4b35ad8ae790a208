"""Loss and accuracy through the eval model, and predictions through the inference model.

Both run with inference semantics (dropout off, batch norm on running statistics), so the batch
size only affects speed and memory; the loss is the example-weighted mean of batch means, which
is the mean over every example. Data is taken in chunks so a provider bigger than memory works.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from mlspec.convert.manifest import Manifest
from mlspec.runtime.batching import epoch_batches
from mlspec.runtime.data import DataSource
from mlspec.runtime.results import EvaluationResult

EVAL_BATCH = 256


class Evaluates(Protocol):
    def eval_step(
        self, feeds: dict[str, npt.NDArray[np.generic]]
    ) -> tuple[float, dict[str, npt.NDArray[np.generic]]]: ...


@dataclass(frozen=True)
class AccuracySource:
    """Where class scores may be found, and which feed holds the true class indices.

    The cross-entropy input comes first (probabilities, or logits when the eval model exposes
    them); with a loss on logits the eval model usually exposes only the probabilities, so the
    other model outputs follow. The first one shaped [N, classes] is used: argmax is the same
    for logits and probabilities.
    """

    candidates: tuple[str, ...]
    target: str
    classes: int

    def scores(self, outputs: Mapping[str, npt.NDArray[Any]], size: int) -> npt.NDArray[Any] | None:
        for name in self.candidates:
            value = outputs.get(name)
            if value is not None and value.shape == (size, self.classes):
                return value
        return None


def accuracy_source(manifest: Manifest) -> AccuracySource | None:
    """Accuracy is defined for a classifier trained with cross-entropy on its class labels."""
    classes = len(manifest.class_labels)
    for loss in manifest.losses:
        if loss.kind == "categorical_cross_entropy" and classes:
            others = [name for name in manifest.eval_outputs[1:] if name != loss.input]
            return AccuracySource((loss.input, *others), loss.target, classes)
    return None


def evaluate_source(
    session: Evaluates, source: DataSource, *, batch_size: int, accuracy: AccuracySource | None
) -> EvaluationResult:
    count = len(source)
    loss_sum = 0.0
    classes = accuracy.classes if accuracy is not None else 0
    confusion = np.zeros((classes, classes), dtype=np.int64)
    measured = accuracy is not None
    for selection in epoch_batches(count, max(batch_size, EVAL_BATCH), None):
        feeds = source.batch(selection)
        loss, outputs = session.eval_step(feeds)
        size = len(next(iter(feeds.values())))
        loss_sum += float(loss) * size
        if accuracy is None:
            continue
        scores = accuracy.scores(outputs, size)
        if scores is None:
            measured = False
            continue
        truth = feeds[accuracy.target].reshape(size).astype(np.int64)
        np.add.at(confusion, (truth, np.argmax(scores, axis=1).astype(np.int64)), 1)
    if not measured:
        return EvaluationResult(loss=loss_sum / count, accuracy=None, count=count)
    return EvaluationResult(
        loss=loss_sum / count,
        accuracy=int(np.trace(confusion)) / count,
        count=count,
        confusion=confusion.tolist(),
    )


def predict_source(
    run: Callable[[Mapping[str, npt.NDArray[np.generic]]], Mapping[str, npt.NDArray[Any]]], source: DataSource
) -> dict[str, npt.NDArray[Any]]:
    """Every output of `run` over the whole source, chunk by chunk, joined along the batch axis."""
    parts: dict[str, list[npt.NDArray[Any]]] = {}
    for selection in epoch_batches(len(source), EVAL_BATCH, None):
        for name, value in run(source.batch(selection)).items():
            parts.setdefault(name, []).append(value)
    return {name: np.concatenate(chunks) for name, chunks in parts.items()}
