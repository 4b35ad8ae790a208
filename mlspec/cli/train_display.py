"""What `mlspec train` shows while it runs, how Ctrl-C reaches the trainer, and the loss plot.

Progress and the per-epoch table go to stdout (they are the command's result); stderr carries
only notes and the one error line, so scripts can separate the two.
"""

from __future__ import annotations

import contextlib
import importlib.util
import signal
from collections.abc import Iterator
from pathlib import Path
from types import FrameType, TracebackType

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from mlspec.runtime import Trainer, TrainingEvent, TrainingResult
from mlspec.spec.atomic import write_with_atomic
from mlspec.spec.errors import MlspecError

HEADER = f"{'epoch':>5}  {'train loss':>10}  {'val loss':>10}  {'val acc':>8}"


class TrainingDisplay:
    """A trainer callback: a progress bar with the live batch loss, and one table row per epoch."""

    def __init__(self, console: Console, *, epochs: int) -> None:
        self.console = console
        self._epochs = epochs
        self._progress = Progress(
            TextColumn("epoch {task.fields[epoch]}/{task.fields[epochs]}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("loss {task.fields[loss]}"),
            TimeElapsedColumn(),
            console=console,
        )
        self._task = self._progress.add_task("train", total=None, epoch=1, epochs=epochs, loss="-")

    def __enter__(self) -> TrainingDisplay:
        # The bar starts with the training_begin event: the trainer checks the data first, and a
        # refused file should end in its one error line, not below a bar stuck at 0/?.
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        if self._progress.live.is_started:
            self._progress.stop()

    def __call__(self, event: TrainingEvent) -> None:
        if event.kind == "mini_batch_end":
            self._progress.update(
                self._task, completed=event.step, epoch=event.epoch + 1, loss=f"{event.batch_loss:.4f}"
            )
        elif event.kind == "training_begin":
            self._progress.start()
            if event.step:
                self.console.print(f"resuming at epoch {event.epoch + 1} after {event.step} steps")
            total = self._epochs * event.batches_per_epoch if event.batches_per_epoch else None
            self._progress.update(
                self._task, total=total, completed=event.step, epoch=min(event.epoch + 1, self._epochs)
            )
            self.console.print(HEADER)
        elif event.kind == "epoch_end":
            self.console.print(
                f"{event.epoch + 1:>5}  {_number(event.epoch_loss):>10}  "
                f"{_number(event.validation_loss):>10}  {_percent(event.validation_accuracy):>8}"
            )


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{100 * value:.1f}%"


@contextlib.contextmanager
def cancel_on_interrupt(trainer: Trainer) -> Iterator[None]:
    """First Ctrl-C: cancel after the step in flight (work kept); a second one aborts at once."""
    previous = signal.getsignal(signal.SIGINT)
    interrupted = False

    def handle(signum: int, frame: FrameType | None) -> None:
        nonlocal interrupted
        if interrupted:
            signal.default_int_handler(signum, frame)
        interrupted = True
        trainer.cancel()

    signal.signal(signal.SIGINT, handle)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def plotting_available() -> bool:
    return importlib.util.find_spec("matplotlib") is not None


def check_plot_format(path: Path) -> None:
    """Refuse a plot suffix matplotlib cannot write before training, not after it."""
    from matplotlib.figure import Figure

    formats = Figure().canvas.get_supported_filetypes()
    if path.suffix.lstrip(".").lower() not in formats:
        raise MlspecError(
            f"{path}: --plot cannot write {path.suffix or 'a file without a suffix'}; use one of: "
            + ", ".join(f".{name}" for name in sorted(formats))
        )


def draw_loss_plot(path: Path, result: TrainingResult) -> None:
    """Train (and validation) loss per epoch, written atomically in the format the suffix names."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 4), layout="tight")
    axes = figure.add_subplot()
    epochs = range(1, len(result.epoch_losses) + 1)
    axes.plot(epochs, result.epoch_losses, marker="o", label="train loss")
    if result.validation_losses:
        axes.plot(
            epochs[-len(result.validation_losses) :],
            result.validation_losses,
            marker="o",
            label="validation loss",
        )
    axes.set_xlabel("epoch")
    axes.set_ylabel("mean loss")
    axes.legend()
    file_format = path.suffix.lstrip(".").lower()
    write_with_atomic(path, lambda temp: figure.savefig(temp, format=file_format))
