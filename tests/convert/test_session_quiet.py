"""Loading and stepping a training session prints nothing on stderr.

ORT warns at every SGD session load about the shape of the update flag in the optimizer graph
it generated itself; users of `mlspec train` cannot act on it, so the backend asks ORT for
errors only. Native logging writes to file descriptor 2, so the check runs in a child process.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mlspec.backends import to_training_artifacts
from tests.support.specs import mlp

CHILD = """
import sys
import numpy as np
from mlspec.backends.ort_training.session import TrainingSession
session = TrainingSession(sys.argv[1])
rng = np.random.default_rng(0)
feeds = {name: rng.normal(size=(4, 4)).astype(np.float32) for name in ("x",)}
feeds["y"] = np.zeros(4, dtype=np.int64)
print(session.train_step(feeds))
"""


@pytest.mark.ort_training
def test_sgd_session_is_silent_on_stderr(tmp_path: Path) -> None:
    manifest = to_training_artifacts(mlp(optimizer="sgd"), tmp_path / "artifacts")
    assert manifest.optimizer.kind == "sgd"
    result = subprocess.run(
        [sys.executable, "-c", CHILD, str(tmp_path / "artifacts")],
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, result.stderr
    assert float(result.stdout) > 0
    assert result.stderr == ""
