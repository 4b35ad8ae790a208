"""The training loop: epochs of mini-batches, events, schedules, cancel, stop and checkpoints.

The per-step work outside ORT is deliberately tiny (take the batch, maybe set the rate, one
train_step, add to two sums) so that the trainer runs within a few percent of a hand-written
ORT loop; events are only built when someone listens.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Protocol

import numpy as np
import numpy.typing as npt

from mlspec.runtime.augment import Augmenter
from mlspec.runtime.batching import batches_per_epoch, epoch_batches, epoch_order
from mlspec.runtime.checkpoints import RunState
from mlspec.runtime.data import DataSource
from mlspec.runtime.events import Callback, EventKind, TrainingContext, TrainingEvent
from mlspec.runtime.hyperparams import Hyperparameters
from mlspec.runtime.results import EvaluationResult, Status, TrainingResult
from mlspec.runtime.schedules import Schedule
from mlspec.spec.errors import MlspecError


class DivergedError(MlspecError):
    """The loss became NaN or infinite: the weights are no longer a model worth writing.

    Training stops at the first such step, before the step's weights reach a checkpoint or the
    spec, so every file mlspec writes holds finite weights."""


class Steps(Protocol):
    learning_rate: float

    def train_step(self, feeds: Mapping[str, npt.NDArray[np.generic]]) -> float: ...


class TrainingRun:
    """One call of `Trainer.train`, continuing from `progress` (fresh or resumed)."""

    def __init__(
        self,
        *,
        session: Steps,
        source: DataSource,
        params: Hyperparameters,
        schedule: Schedule,
        progress: RunState,
        context: TrainingContext,
        callbacks: Sequence[Callback],
        cancel: threading.Event,
        validate: Callable[[], EvaluationResult] | None,
        checkpoint: Callable[[], object] | None,
        checkpoint_every: int,
        augment: Augmenter | None = None,
    ) -> None:
        self.session = session
        self.source = source
        self.params = params
        self.schedule = schedule
        self.progress = progress
        self.context = context
        self.callbacks = list(callbacks)
        self.cancel = cancel
        self.validate = validate
        self.checkpoint = checkpoint
        self.checkpoint_every = checkpoint_every
        self.augment = augment
        self._rate = float("nan")

    def run(self) -> TrainingResult:
        progress, params = self.progress, self.params
        resumed_from = progress.epoch if progress.step else None
        batches = batches_per_epoch(len(self.source), params.mini_batch_size)
        self._emit("training_begin", epoch=progress.epoch, batches_per_epoch=batches)
        status: Status = "completed"
        while progress.epoch < params.epochs:
            status = self._run_epoch(progress.epoch)
            if status != "completed":
                break
            self._end_epoch(progress.epoch)
        last_loss = progress.epoch_losses[-1] if progress.epoch_losses else None
        self._emit("training_end", epoch=progress.epoch, epoch_loss=last_loss)
        return TrainingResult(
            status=status,
            epochs_completed=progress.epoch,
            steps=progress.step,
            learning_rate=self._current_rate(progress.epoch),
            epoch_losses=list(progress.epoch_losses),
            validation_losses=list(progress.validation_losses),
            validation_accuracies=list(progress.validation_accuracies),
            resumed_from_epoch=resumed_from,
        )

    def _run_epoch(self, epoch: int) -> Status:
        progress, session, source = self.progress, self.session, self.source
        count = len(source)
        order = epoch_order(count, epoch=epoch, seed=self.params.seed, shuffle=self.params.shuffle)
        listening = bool(self.callbacks)
        stop = self.context.stop_requested
        for batch_index, selection in enumerate(epoch_batches(count, self.params.mini_batch_size, order)):
            if batch_index < progress.batches_done:
                continue  # done before the checkpoint this run resumed from
            if self.cancel.is_set():
                return "cancelled"
            if stop.is_set():
                return "stopped"
            rate = self._current_rate(epoch)
            if rate != self._rate:
                session.learning_rate = rate
                self._rate = rate
            feeds = source.batch(selection)
            if self.augment is not None:
                feeds = self.augment(feeds, epoch, batch_index)
            loss = session.train_step(feeds)
            if not math.isfinite(loss):
                raise DivergedError(
                    f"training diverged: the loss is {loss} at epoch {epoch + 1}, batch {batch_index + 1}; "
                    "nothing was written. Lower the learning rate, enable gradient clipping, or check "
                    "the data and weights for extreme values"
                )
            size = (selection.stop - selection.start) if isinstance(selection, slice) else len(selection)
            progress.step += 1
            progress.batches_done += 1
            progress.epoch_loss_sum += loss * size
            progress.epoch_examples += size
            if listening:
                self._emit(
                    "mini_batch_end", epoch=epoch, batch_index=batch_index, batch_loss=loss, batch_size=size
                )
        return "completed"

    def _end_epoch(self, epoch: int) -> None:
        progress = self.progress
        epoch_loss = progress.epoch_loss_sum / progress.epoch_examples
        progress.epoch_losses.append(epoch_loss)
        validation = self.validate() if self.validate is not None else None
        if validation is not None:
            progress.validation_losses.append(validation.loss)
            if validation.accuracy is not None:
                progress.validation_accuracies.append(validation.accuracy)
        progress.epoch = epoch + 1
        progress.batches_done = 0
        progress.epoch_loss_sum = 0.0
        progress.epoch_examples = 0
        self._emit(
            "epoch_end",
            epoch=epoch,
            epoch_loss=epoch_loss,
            validation_loss=validation.loss if validation else None,
            validation_accuracy=validation.accuracy if validation else None,
        )
        due = (epoch + 1) % self.checkpoint_every == 0
        if self.checkpoint is not None and (due or progress.epoch == self.params.epochs):
            self.checkpoint()

    def _current_rate(self, epoch: int) -> float:
        return self.schedule.rate(
            self.context.base_learning_rate, epoch=epoch, step=self.progress.step, epochs=self.params.epochs
        )

    def _emit(self, kind: EventKind, *, epoch: int, **metrics: float | int | None) -> None:
        if not self.callbacks:
            return
        event = TrainingEvent(
            kind=kind,
            context=self.context,
            epoch=epoch,
            step=self.progress.step,
            learning_rate=self._current_rate(epoch) if kind != "mini_batch_end" else self._rate,
            **metrics,  # type: ignore[arg-type]
        )
        for callback in self.callbacks:
            callback(event)
        self.progress.base_learning_rate = self.context.base_learning_rate
