"""Checkpoints survive a real SIGKILL, and resuming ends exactly where an uninterrupted run ends."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import mlspec
from mlspec.builder import AdamParams
from mlspec.runtime import CheckpointError, Trainer, TrainingEvent
from mlspec.runtime.checkpoints import POINTER, load_latest
from tests.runtime.models import blobs, classifier
from tests.support.kill import kill_at_marker

CHILD = """
import sys, time
from pathlib import Path
from mlspec.runtime import Trainer

spec, data, checkpoints, output, marker = (Path(arg) for arg in sys.argv[1:6])
trainer = Trainer.from_spec(spec, epochs=4)

def pause_after_epoch_two(event):
    if event.kind == "mini_batch_end" and event.epoch == 2 and event.batch_index == 0:
        marker.write_text("two epochs done and checkpointed")
        time.sleep(120)

trainer.train(data, checkpoint_dir=checkpoints, checkpoint_every=1, callbacks=[pause_after_epoch_two])
trainer.save(output)
"""


def _assert_same_weights(actual: Trainer, expected: Trainer) -> None:
    for name, value in expected.parameters().items():
        np.testing.assert_allclose(actual.parameters()[name], value, rtol=0, atol=1e-6, err_msg=name)


def test_sigkill_after_epoch_two_then_resume_matches_an_uninterrupted_run(tmp_path: Path) -> None:
    spec_path, data_path = tmp_path / "model.mlspec", tmp_path / "train.npz"
    mlspec.save(classifier(hidden=4), spec_path)
    spec_bytes = spec_path.read_bytes()
    x, y = blobs(20, seed=4)
    np.savez(data_path, x=x, label=y)
    checkpoints, outputs, marker = tmp_path / "checkpoints", tmp_path / "out", tmp_path / "marker"
    outputs.mkdir()
    output = outputs / "updated.mlspec"
    args = [str(p) for p in (spec_path, data_path, checkpoints, output, marker)]
    kill_at_marker(CHILD, args, marker, "the end of two epochs", timeout=60)

    assert list(outputs.iterdir()) == []  # neither the result nor a temporary file
    assert spec_path.read_bytes() == spec_bytes
    names = sorted(p.name for p in checkpoints.iterdir())
    assert names == [POINTER, "step-00000010.ckpt"]  # 2 epochs x 5 batches of 4

    resumed = Trainer.from_spec(spec_path, epochs=4)
    result = resumed.train(data_path, checkpoint_dir=checkpoints, resume=True)
    assert (result.resumed_from_epoch, result.epochs_completed, result.steps) == (2, 4, 20)
    resumed.save(output)

    uninterrupted = Trainer.from_spec(spec_path, epochs=4)
    expected = uninterrupted.train(data_path)
    _assert_same_weights(resumed, uninterrupted)
    assert result.epoch_losses == pytest.approx(expected.epoch_losses, rel=1e-6)
    assert spec_path.read_bytes() == spec_bytes
    assert mlspec.load(output).network.layers[0].name == "hidden"


def _adam() -> mlspec.Model:
    return classifier(AdamParams(lr=0.05, batch=4), epochs=3)


def test_cancel_mid_epoch_checkpoint_and_resume_is_exact(tmp_path: Path) -> None:
    x, y = blobs(10, seed=2)
    interrupted = Trainer.from_spec(_adam())

    def cancel_at_five(event: TrainingEvent) -> None:
        if event.kind == "mini_batch_end" and event.step == 5:
            interrupted.cancel()

    result = interrupted.train((x, y), callbacks=[cancel_at_five])
    assert result.cancelled and result.steps == 5 and result.epoch_losses and len(result.epoch_losses) == 1
    interrupted.save_checkpoint(tmp_path / "ckpt")

    resumed = Trainer.from_spec(_adam())
    finished = resumed.train((x, y), checkpoint_dir=tmp_path / "ckpt", resume=True)
    uninterrupted = Trainer.from_spec(_adam())
    expected = uninterrupted.train((x, y))
    assert finished.steps == expected.steps == 9
    assert finished.epoch_losses == pytest.approx(expected.epoch_losses, rel=1e-6)
    _assert_same_weights(resumed, uninterrupted)


def test_a_write_interrupted_between_files_leaves_the_previous_checkpoint_usable(tmp_path: Path) -> None:
    x, y = blobs(8, seed=1)
    directory = tmp_path / "ckpt"
    first = Trainer.from_spec(_adam(), epochs=1)
    first.train((x, y), checkpoint_dir=directory)
    found = load_latest(directory)
    assert found is not None and found[0].step == 2
    # What a kill mid-save leaves: a half-written ORT file and a temporary pointer never renamed.
    (directory / "step-00000099.ckpt").write_bytes(b"half written")
    (directory / f".{POINTER}.abc.tmp").write_text("{")
    again = load_latest(directory)
    assert again is not None and again[1].name == "step-00000002.ckpt"
    resumed = Trainer.from_spec(_adam(), epochs=2)
    assert resumed.train((x, y), checkpoint_dir=directory, resume=True).steps == 4
    assert sorted(p.name for p in directory.iterdir()) == [POINTER, "step-00000004.ckpt"]


def _checkpointed(tmp_path: Path, epochs: int) -> tuple[np.ndarray, np.ndarray, Path]:
    """Data and a checkpoint directory after a run of `epochs` epochs (8 examples, 2 steps each)."""
    x, y = blobs(8, seed=1)
    directory = tmp_path / "ckpt"
    Trainer.from_spec(_adam(), epochs=epochs).train((x, y), checkpoint_dir=directory)
    return x, y, directory


def test_resume_refuses_different_data_or_settings(tmp_path: Path) -> None:
    x, y, directory = _checkpointed(tmp_path, epochs=1)
    with pytest.raises(CheckpointError, match="mini_batch_size was 4, now 8"):
        Trainer.from_spec(_adam(), mini_batch_size=8).train((x, y), checkpoint_dir=directory, resume=True)
    with pytest.raises(CheckpointError, match=r"learning_rate was 0\.05, now 0\.1"):
        Trainer.from_spec(_adam(), lr=0.1).train((x, y), checkpoint_dir=directory, resume=True)
    assert (
        Trainer.from_spec(_adam(), epochs=2).train((x, y), checkpoint_dir=directory, resume=True).steps == 4
    )
    with pytest.raises(CheckpointError, match="it trained on 8 examples, this data has 6"):
        Trainer.from_spec(_adam()).train((x[:6], y[:6]), checkpoint_dir=directory, resume=True)
    (directory / POINTER).write_text("not json")
    with pytest.raises(CheckpointError, match="not a checkpoint pointer written by mlspec"):
        Trainer.from_spec(_adam()).train((x, y), checkpoint_dir=directory, resume=True)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "checkpoint",
            "/etc/passwd",
            r"names checkpoint '/etc/passwd'; at step 2 mlspec writes 'step-00000002\.ckpt'",
        ),
        ("checkpoint", "../step-00000002.ckpt", r"names checkpoint '\.\./step-00000002\.ckpt'"),
        ("epoch", 1_000_000_000, r"epoch is 1000000000; with these counts it can be 0 to 2"),
        ("epoch", 1e9, r"epoch is 1000000000\.0; it must be a whole number >= 0"),
        ("step", -3, r"step is -3; it must be a whole number >= 0"),
    ],
)
def test_a_pointer_naming_another_path_or_an_impossible_epoch_is_refused(
    tmp_path: Path, field: str, value: object, message: str
) -> None:
    """The pointer is read from disk like any other file (issue 16: an absolute path and an epoch
    of 1e9 were accepted)."""
    x, y, directory = _checkpointed(tmp_path, epochs=1)
    record = json.loads((directory / POINTER).read_text())
    record[field] = value
    (directory / POINTER).write_text(json.dumps(record))
    with pytest.raises(CheckpointError, match=f"{POINTER}: {message}"):
        Trainer.from_spec(_adam(), epochs=2).train((x, y), checkpoint_dir=directory, resume=True)


def test_a_checkpoint_past_the_runs_epochs_is_refused(tmp_path: Path) -> None:
    x, y, directory = _checkpointed(tmp_path, epochs=2)
    with pytest.raises(CheckpointError, match="the checkpoint is at epoch 2; this run trains 1 epochs"):
        Trainer.from_spec(_adam(), epochs=1).train((x, y), checkpoint_dir=directory, resume=True)
