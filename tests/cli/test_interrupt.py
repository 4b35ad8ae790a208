"""Ctrl-C on a real `mlspec train` process: a clean one-line exit, a checkpoint, an untouched
input, no output, and a `--resume` that finishes the run."""

from __future__ import annotations

import json
import re
import signal
import time
from pathlib import Path

from tests.cli import specs
from tests.cli.subprocesses import error_lines, mlspec, start


def test_sigint_saves_a_checkpoint_and_resume_completes(tmp_path: Path) -> None:
    specs.write(specs.updatable_classifier(), tmp_path / "updatable.mlspec")
    specs.write_blobs(tmp_path / "train.npz", 2000, seed=4)
    before = specs.digest(tmp_path / "updatable.mlspec")
    common = ["--data", "train.npz", "-o", "trained.mlspec", "--batch-size", "4", "--checkpoint-dir", "ckpt"]
    process = start("train", "updatable.mlspec", *common, "--epochs", "50", cwd=tmp_path)
    pointer = tmp_path / "ckpt" / "latest.json"
    deadline = time.monotonic() + 60
    while not pointer.exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert process.poll() is None, "training ended before it could be interrupted"
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)

    assert process.returncode == 130
    assert re.search(r"^\s+1\s+\d+\.\d+", stdout, re.MULTILINE)  # the first epoch's row was shown
    assert "Traceback" not in stderr
    lines = error_lines(stderr)
    assert len(lines) == 1 and lines[0].startswith("error: training cancelled"), stderr
    assert "checkpoint saved in ckpt" in lines[0] and "--resume" in lines[0]
    state = json.loads(pointer.read_text())
    assert state["step"] >= 500  # at least the first epoch (500 steps of 4 examples)
    assert (tmp_path / "ckpt" / state["checkpoint"]).is_file()
    assert specs.digest(tmp_path / "updatable.mlspec") == before
    assert not (tmp_path / "trained.mlspec").exists()

    finish = str(state["epoch"] + 1)
    resumed = mlspec("train", "updatable.mlspec", *common, "--epochs", finish, "--resume", cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert f"resuming at epoch {state['epoch'] + 1} after {state['step']} steps" in resumed.stdout
    assert (tmp_path / "trained.mlspec").is_file()
    assert specs.digest(tmp_path / "updatable.mlspec") == before
