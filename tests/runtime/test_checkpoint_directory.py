"""Checkpoint directories belong to mlspec alone: other files are never removed, a directory that
holds them is refused, and two runs cannot share one (regression tests for the hardening review)."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from mlspec.runtime import CheckpointError, Trainer, TrainingEvent
from mlspec.runtime.checkpoints import locked
from tests.runtime.models import blobs, classifier

REPO = Path(__file__).resolve().parents[2]
OTHER_PROGRAMS = ("epoch=3-step=900.ckpt", "model.ckpt", ".editor-swap.tmp")


def _data() -> dict[str, object]:
    x, y = blobs(16, seed=2)
    return {"x": x, "label": y}


def test_checkpoint_dir_with_other_programs_files_is_refused_and_left_intact(tmp_path: Path) -> None:
    directory = tmp_path / "ckpt"
    directory.mkdir()
    for name in OTHER_PROGRAMS:
        (directory / name).write_bytes(b"not mlspec's " + name.encode())
    with Trainer.from_spec(classifier()) as trainer, pytest.raises(CheckpointError) as caught:
        trainer.train(_data(), checkpoint_dir=directory)
    message = str(caught.value)
    assert str(directory) in message and "3 file(s) mlspec did not write" in message
    assert "'.editor-swap.tmp'" in message
    assert sorted(p.name for p in directory.iterdir()) == sorted(OTHER_PROGRAMS)
    for name in OTHER_PROGRAMS:
        assert (directory / name).read_bytes() == b"not mlspec's " + name.encode()


def test_a_file_appearing_mid_run_is_never_removed(tmp_path: Path) -> None:
    """Superseded step files and mlspec's temporaries go; a look-alike of another program stays."""
    directory = tmp_path / "ckpt"
    intruders = ("step-1.ckpt", ".model.ckpt.abc.tmp", "latest.json.bak")

    def drop_files(event: TrainingEvent) -> None:
        if event.kind == "epoch_end" and event.epoch == 1:
            for name in intruders:
                (directory / name).write_text("someone else's")

    with Trainer.from_spec(classifier(epochs=3)) as trainer:
        trainer.train(_data(), checkpoint_dir=directory, callbacks=[drop_files])
    names = sorted(p.name for p in directory.iterdir())
    assert names == sorted(["latest.json", "step-00000012.ckpt", *intruders])


def test_two_runs_cannot_share_a_checkpoint_dir(tmp_path: Path) -> None:
    directory = tmp_path / "ckpt"
    with locked(directory), pytest.raises(CheckpointError, match="another mlspec run is using"):  # noqa: SIM117
        with Trainer.from_spec(classifier()) as trainer:
            trainer.train(_data(), checkpoint_dir=directory)
    assert list(directory.iterdir()) == []


CHILD = """
import sys, time
from pathlib import Path
from mlspec.runtime.checkpoints import locked
with locked(Path(sys.argv[1])):
    print("holding", flush=True)
    time.sleep(30)
"""


def test_a_run_in_another_process_is_refused_while_the_first_holds_the_dir(tmp_path: Path) -> None:
    directory = tmp_path / "ckpt"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(directory)], env=env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert child.stdout is not None and child.stdout.readline().strip() == "holding"
        with Trainer.from_spec(classifier()) as trainer, pytest.raises(CheckpointError):
            trainer.train(_data(), checkpoint_dir=directory)
    finally:
        child.kill()
        child.wait()
    # Released with the process: the directory is usable again.
    with Trainer.from_spec(classifier()) as trainer:
        trainer.train(_data(), checkpoint_dir=directory)
    assert (directory / "latest.json").is_file()


def test_concurrent_threads_one_trains_the_other_is_refused(tmp_path: Path) -> None:
    directory = tmp_path / "ckpt"
    started, results = threading.Event(), []

    def wait_inside(event: TrainingEvent) -> None:
        if event.kind == "mini_batch_end" and not started.is_set():
            started.set()
            second_done.wait(30)

    second_done = threading.Event()

    def first() -> None:
        with Trainer.from_spec(classifier()) as trainer:
            results.append(trainer.train(_data(), checkpoint_dir=directory, callbacks=[wait_inside]).status)

    thread = threading.Thread(target=first)
    thread.start()
    assert started.wait(30)
    try:
        with Trainer.from_spec(classifier()) as trainer, pytest.raises(CheckpointError):
            trainer.train(_data(), checkpoint_dir=directory)
    finally:
        second_done.set()
        thread.join(30)
    assert results == ["completed"]
