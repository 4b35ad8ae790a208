"""The committed mlspec/_proto matches what tools/gen_proto.py generates from proto/."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.support.tools import run_tool

ROOT = Path(__file__).resolve().parents[2]


def run_check(root: Path) -> subprocess.CompletedProcess[str]:
    return run_tool(root / "tools" / "gen_proto.py", "--check", timeout=120)


def test_committed_code_is_current() -> None:
    result = run_check(ROOT)
    assert result.returncode == 0, result.stderr


def test_check_fails_after_a_committed_file_changes(tmp_path: Path) -> None:
    """Work on a copy: the real mlspec/_proto is never touched."""
    copy = tmp_path / "repo"
    shutil.copytree(ROOT / "proto", copy / "proto")
    shutil.copytree(ROOT / "tools", copy / "tools", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(
        ROOT / "mlspec" / "_proto", copy / "mlspec" / "_proto", ignore=shutil.ignore_patterns("__pycache__")
    )
    assert run_check(copy).returncode == 0
    altered = copy / "mlspec" / "_proto" / "layers_pb2.pyi"
    altered.write_text(altered.read_text() + "# hand edit\n")
    result = run_check(copy)
    assert result.returncode == 1
    assert "stale" in result.stderr and "layers_pb2.pyi" in result.stderr
