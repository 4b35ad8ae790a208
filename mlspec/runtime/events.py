"""Progress events and the control a callback has over the run.

Core ML reports "the current loss", which is the last mini-batch's loss, and lets a progress
handler change the learning rate only by resuming the task with a new parameter dictionary.
Here each event carries the batch loss and the epoch's mean over its examples separately, and
the event's `context` changes the learning rate or stops the run directly.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

EventKind = Literal["training_begin", "mini_batch_end", "epoch_end", "training_end"]


class TrainingContext:
    """Handed to every callback; changes take effect before the next mini-batch.

    `set_learning_rate` replaces the base rate (the one a declared schedule scales) and is
    checked against the spec's allowed values. `stop()` ends the run after the current step and
    keeps its work, like `Trainer.cancel()`, but reports the run as stopped rather than cancelled.
    """

    def __init__(self, check_learning_rate: Callable[[object], float], base_learning_rate: float) -> None:
        self._check = check_learning_rate
        self.base_learning_rate = base_learning_rate
        self.stop_requested = threading.Event()

    def set_learning_rate(self, value: float) -> None:
        self.base_learning_rate = self._check(value)

    def stop(self) -> None:
        self.stop_requested.set()


@dataclass(frozen=True)
class TrainingEvent:
    """One progress report. Indices are 0-based; `step` counts optimizer steps taken so far."""

    kind: EventKind
    context: TrainingContext
    epoch: int
    step: int
    learning_rate: float
    # training_begin: mini-batches in every epoch of this run, so a display can size itself.
    batches_per_epoch: int | None = None
    # mini_batch_end: index of the batch within its epoch and that batch's mean loss.
    batch_index: int | None = None
    batch_loss: float | None = None
    batch_size: int | None = None
    # epoch_end and training_end: mean loss over every example of the (last) epoch.
    epoch_loss: float | None = None
    validation_loss: float | None = None
    validation_accuracy: float | None = None


Callback = Callable[[TrainingEvent], None]
