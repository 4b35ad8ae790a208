"""A reader that stops early (`mlspec dump MODEL | head`) ends the command quietly, exit 141."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import mlspec
from mlspec.builder import NetworkBuilder

ROOT = Path(__file__).resolve().parents[2]


def test_dump_into_a_closed_pipe_exits_141_without_an_error_line(tmp_path: Path) -> None:
    builder = NetworkBuilder()
    builder.add_input("x", (4,))
    builder.add_inner_product("fc", "x", 2)
    mlspec.save(builder.spec, tmp_path / "small.mlspec")
    read_end, write_end = os.pipe()
    os.close(read_end)  # the reader is gone before the command writes anything
    try:
        result = subprocess.run(
            [sys.executable, "-m", "mlspec", "dump", str(tmp_path / "small.mlspec")],
            stdout=write_end,
            stderr=subprocess.PIPE,
            cwd=ROOT,
            check=False,
            timeout=60,
        )
    finally:
        os.close(write_end)
    assert result.returncode == 141
    assert result.stderr == b""
