"""A convert killed (SIGKILL) at any instant leaves the old -o artifact set under its name, and the
hidden temporaries it leaves are removed by the next write beside it (issue 16: a kill after the
old set was moved aside left -o missing, and killed runs left temporaries nothing removed)."""

from __future__ import annotations

import hashlib
import os
import time
from pathlib import Path

import pytest

import mlspec
from mlspec.backends import to_training_artifacts
from mlspec.spec import atomic
from tests.runtime.models import classifier
from tests.support.kill import kill_at_marker

# Pauses convert at one instant, says so through `marker`, and waits to be killed there.
CHILD = """
import sys, time
from pathlib import Path
import mlspec
from mlspec.backends import to_training_artifacts
from mlspec.convert import artifacts
from mlspec.spec import atomic

spec, out, marker, instant = sys.argv[1:5]

def pause():
    Path(marker).write_text(instant)
    time.sleep(120)

if instant == "before-swap":  # every new file written, nothing moved yet
    swap = artifacts.replace_directory
    artifacts.replace_directory = lambda new, target: (pause(), swap(new, target))
elif instant == "after-swap":  # the new set in place, the old one not yet removed
    exchange = atomic._exchange
    atomic._exchange = lambda a, b: (exchange(a, b), pause())[0]
elif instant == "between-renames":  # no atomic swap: the old set moved aside, the new one not in
    atomic._exchange = lambda a, b: False
    real_replace = atomic.os.replace
    def replace(source, destination):
        real_replace(source, destination)
        if Path(destination).name == "set":
            pause()
    atomic.os.replace = replace
to_training_artifacts(mlspec.load(spec), out)
"""


def _fingerprint(directory: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(directory.iterdir())}


def _hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def _age(folder: Path) -> None:
    """Make the hidden temporaries look as old as a killed run's are by the next run."""
    past = time.time() - 2 * atomic.STALE_SECONDS
    for name in _hidden(folder):
        os.utime(folder / name, (past, past))


@pytest.mark.parametrize("instant", ["before-swap", "after-swap", "between-renames"])
def test_convert_killed_at_any_instant_leaves_an_artifact_set_and_no_lasting_temporaries(
    tmp_path: Path, instant: str
) -> None:
    folder = tmp_path / "work"
    folder.mkdir()
    out = folder / "artifacts"
    to_training_artifacts(classifier(hidden=4), out)
    old = _fingerprint(out)
    new_spec = tmp_path / "new.mlspec"
    mlspec.save(classifier(hidden=6), new_spec)

    marker = tmp_path / "marker"
    kill_at_marker(CHILD, [str(new_spec), str(out), str(marker), instant], marker, instant)

    assert _hidden(folder), "the kill left no temporary: the instant was not reached mid-write"
    if instant == "between-renames":  # the old set survives hidden until the next run restores it
        assert not out.exists()
    else:
        assert _fingerprint(out) == old if instant == "before-swap" else _fingerprint(out) != old
    _age(folder)
    atomic.sweep_beside(out)
    assert _hidden(folder) == []
    if instant != "after-swap":
        assert _fingerprint(out) == old
    to_training_artifacts(mlspec.load(new_spec), out)
    assert _fingerprint(out) != old
    assert sorted(os.listdir(folder)) == ["artifacts"]


def test_a_temporary_of_a_live_run_is_not_swept(tmp_path: Path) -> None:
    out = tmp_path / "artifacts"
    with atomic.directory_beside(out, ".partial") as staging:
        (staging / "model.onnx").write_bytes(b"being written")
        _age(tmp_path)
        atomic.sweep_beside(out)
        assert (staging / "model.onnx").read_bytes() == b"being written"
    assert os.listdir(tmp_path) == []
