"""Run js/bin/train-node.mjs (onnxruntime-node) on converted artifacts, as tools/ci/node.sh does."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

ROOT = Path(__file__).resolve().parents[2]
TRAIN_NODE = ROOT / "js" / "bin" / "train-node.mjs"


def node() -> str:
    found = shutil.which("node")
    assert found is not None, "Node.js is not on PATH (tools/ci/node.sh needs Node.js 20)"
    assert (ROOT / "js" / "node_modules" / "onnxruntime-node").is_dir(), "run tools/ci/node.sh"
    return found


def write_data(path: Path, columns: Mapping[str, npt.NDArray[Any]]) -> Path:
    path.write_text(json.dumps({"columns": {k: np.asarray(v).tolist() for k, v in columns.items()}}))
    return path


def train_node(
    artifacts: Path, data: Path, out: Path, *options: str, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the Node trainer; its JSON lines are on stdout, a refusal on stderr."""
    done = subprocess.run(
        [node(), str(TRAIN_NODE), str(artifacts), str(data), "--out", str(out), *options],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done


def events(done: subprocess.CompletedProcess[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]


def settings_options(settings: Mapping[str, Any]) -> Sequence[str]:
    words: list[str] = []
    for name, value in settings.items():
        words += ["--set", f"{name}={str(value).lower() if isinstance(value, bool) else value}"]
    return words
