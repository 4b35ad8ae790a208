"""Running the real `mlspec` program in a child process, as a user's shell would."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

MLSPEC = [sys.executable, "-m", "mlspec"]


def environment(debug: bool = False) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key != "MLSPEC_DEBUG"}
    if debug:
        env["MLSPEC_DEBUG"] = "1"
    return env


def mlspec(*args: object, cwd: Path, debug: bool = False) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MLSPEC, *(str(arg) for arg in args)],
        cwd=cwd,
        env=environment(debug),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def start(*args: object, cwd: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*MLSPEC, *(str(arg) for arg in args)],
        cwd=cwd,
        env=environment(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def error_lines(stderr: str) -> list[str]:
    """stderr without onnxruntime's own log lines (its shape-merge warning goes there too)."""
    return [line for line in stderr.splitlines() if line.strip() and "onnxruntime" not in line]
