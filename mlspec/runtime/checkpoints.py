"""Checkpoints every N epochs that survive a kill at any instant, and resuming from them.

Layout of a checkpoint directory:

    latest.json            the pointer: run state plus the name of the ORT checkpoint it belongs to
    step-00000040.ckpt     ORT checkpoint (weights + optimizer state) after 40 optimizer steps

A checkpoint is written in two steps: the ORT file under a fresh name, then `latest.json`
replaced atomically. A kill before the replace leaves the old pointer naming the old, complete
ORT file; a kill after it leaves the new pair complete. Files no pointer names (left by a kill
between the two steps, or superseded) are removed after the next successful replace.

The directory is mlspec's alone. A run refuses one that holds anything mlspec does not write
(a user's `model.ckpt`, an editor's swap file): only names of the forms above, their atomic
temporaries are ever removed, so nothing of anyone else's can be deleted. A run holds an
exclusive lock (flock) on the directory itself while it trains or saves, so two runs pointed at
the same directory cannot remove each other's files: the second is refused at once.

The run state holds everything a resumed run needs to continue exactly: the epoch and the
mini-batches already done in it (a checkpoint taken on cancel may fall mid-epoch; each epoch's
order is a function of seed and epoch, so the rest of it is known), the steps done, the base
learning rate (a callback may have changed it), the partial sums of the epoch's mean loss, and
the losses of completed epochs.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Protocol

from mlspec.spec.atomic import write_bytes_atomic
from mlspec.spec.errors import MlspecError

POINTER = "latest.json"
FORMAT = 1
_CHECKPOINT = re.compile(r"step-\d{8}\.ckpt")
# What mlspec.spec.atomic leaves behind if killed mid-write: ".{name}.{random}.tmp".
_TEMPORARY = re.compile(r"\.(latest\.json|step-\d{8}\.ckpt)\.[A-Za-z0-9_]+\.tmp")


class CheckpointError(MlspecError):
    """A checkpoint directory cannot be resumed from."""


class SavesCheckpoints(Protocol):
    def save_checkpoint(self, path: Path, properties: Mapping[str, int | float | str]) -> None: ...


@dataclass
class RunState:
    """Where a run stands: also the trainer's live progress record."""

    # The settings the run was started with; a resume with different ones is refused.
    hyperparameters: dict[str, object]
    example_count: int
    base_learning_rate: float
    spec_hash: str = ""
    epoch: int = 0
    batches_done: int = 0
    step: int = 0
    epoch_loss_sum: float = 0.0
    epoch_examples: int = 0
    epoch_losses: list[float] = field(default_factory=list)
    validation_losses: list[float] = field(default_factory=list)
    validation_accuracies: list[float] = field(default_factory=list)
    checkpoint: str = ""
    format: int = FORMAT


def _is_own(name: str) -> bool:
    return name == POINTER or bool(_CHECKPOINT.fullmatch(name) or _TEMPORARY.fullmatch(name))


def check_own(directory: Path) -> None:
    """Refuse a directory holding anything mlspec's checkpoints do not consist of."""
    if directory.exists() and not directory.is_dir():
        raise CheckpointError(f"{directory}: not a directory; give a directory for the checkpoints")
    if not directory.exists():
        return
    foreign = sorted(entry.name for entry in directory.iterdir() if not _is_own(entry.name))
    if foreign:
        shown = ", ".join(repr(name) for name in foreign[:3]) + (", ..." if len(foreign) > 3 else "")
        raise CheckpointError(
            f"{directory}: holds {len(foreign)} file(s) mlspec did not write ({shown}); checkpoints "
            "need a new or empty directory, or one only mlspec has written to"
        )


@contextlib.contextmanager
def locked(directory: Path) -> Iterator[None]:
    """Hold the directory for one run: checked to be mlspec's own, and locked against others."""
    check_own(directory)
    directory.mkdir(parents=True, exist_ok=True)
    try:
        import fcntl  # noqa: PLC0415 (POSIX only; elsewhere runs are not protected from each other)
    except ImportError:
        yield
        return
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CheckpointError(
                f"{directory}: another mlspec run is using this checkpoint directory; wait for it to "
                "finish or give another directory"
            ) from None
        yield
    finally:
        os.close(descriptor)  # closing releases the lock


def save(directory: Path, session: SavesCheckpoints, state: RunState) -> Path:
    """Write the ORT checkpoint, then swing the pointer to it; return the ORT checkpoint path.

    The caller holds `locked(directory)`."""
    name = f"step-{state.step:08d}.ckpt"
    target = directory / name
    properties = {"epoch": state.epoch, "step": state.step, "learning_rate": state.base_learning_rate}
    session.save_checkpoint(target, properties)
    record = asdict(state)
    record["checkpoint"] = name
    payload = json.dumps(record, indent=2, sort_keys=True).encode("utf-8")
    write_bytes_atomic(directory / POINTER, payload)
    _remove_unreferenced(directory, keep=name)
    return target


def load_latest(directory: Path) -> tuple[RunState, Path] | None:
    """The state and ORT checkpoint path the pointer names, or None if nothing was saved yet."""
    pointer = directory / POINTER
    if not pointer.exists():
        return None
    try:
        raw = json.loads(pointer.read_text(encoding="utf-8"))
        state = RunState(**raw)
    except (json.JSONDecodeError, TypeError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{pointer}: not a checkpoint pointer written by mlspec ({exc})") from exc
    if state.format != FORMAT:
        raise CheckpointError(f"{pointer}: checkpoint format {state.format}, this mlspec reads {FORMAT}")
    _check_progress(state, pointer)
    checkpoint = directory / state.checkpoint
    if not checkpoint.is_file():
        raise CheckpointError(f"{pointer}: names {state.checkpoint}, which is missing from {directory}")
    return state, checkpoint


def _check_progress(state: RunState, pointer: Path) -> None:
    """The pointer is a file like any other: it may name a path outside the directory (an absolute
    path, `..`) or claim an epoch of 1e9. Only what `save` writes is accepted: whole counts in
    range (an epoch takes at least one step, a batch at least one example) and the checkpoint's
    own plain name for its step. `check_compatible` bounds the epoch by the run's."""
    limits = {
        "example_count": None,
        "step": None,
        "epoch": state.step,
        "batches_done": state.example_count,
        "epoch_examples": state.example_count,
    }
    for name, limit in limits.items():
        value = getattr(state, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise CheckpointError(f"{pointer}: {name} is {value!r}; it must be a whole number >= 0")
        if limit is not None and value > limit:
            raise CheckpointError(f"{pointer}: {name} is {value}; with these counts it can be 0 to {limit}")
    expected = f"step-{state.step:08d}.ckpt"
    if state.checkpoint != expected:
        raise CheckpointError(
            f"{pointer}: names checkpoint {str(state.checkpoint)[:80]!r}; at step {state.step} mlspec "
            f"writes {expected!r}, a plain name inside the checkpoint directory"
        )


def check_compatible(state: RunState, expected: RunState, pointer: Path) -> None:
    """Refuse to resume a run whose data or settings differ: it could not reproduce the run."""
    epochs = expected.hyperparameters.get("epochs")
    if isinstance(epochs, int) and state.epoch > epochs:
        raise CheckpointError(
            f"{pointer}: the checkpoint is at epoch {state.epoch}; this run trains {epochs} epochs, "
            f"fewer than it has done; train for {state.epoch} or more epochs, or start afresh"
        )
    mismatches = []
    if state.spec_hash and expected.spec_hash and state.spec_hash != expected.spec_hash:
        mismatches.append("the checkpoint was written for a different spec")
    if state.example_count != expected.example_count:
        mismatches.append(
            f"it trained on {state.example_count} examples, this data has {expected.example_count}"
        )
    for name, value in expected.hyperparameters.items():
        if name == "epochs":
            continue  # training for longer than first planned is a reason to resume
        saved = state.hyperparameters.get(name)
        if saved != value:
            mismatches.append(f"{name} was {saved!r}, now {value!r}")
    if mismatches:
        raise CheckpointError(f"{pointer}: cannot resume: " + "; ".join(mismatches))


def _remove_unreferenced(directory: Path, keep: str) -> None:
    """Remove superseded checkpoints and mlspec's own temporaries; never any other name."""
    for path in directory.iterdir():
        superseded = _CHECKPOINT.fullmatch(path.name) is not None and path.name != keep
        if superseded or _TEMPORARY.fullmatch(path.name):
            with contextlib.suppress(FileNotFoundError):
                path.unlink()
