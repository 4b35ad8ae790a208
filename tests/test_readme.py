"""The README's Python example runs as printed and learns."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.DOTALL)


def test_readme_python_example_trains_and_writes_the_updated_spec(tmp_path: Path) -> None:
    blocks = _python_blocks()
    assert len(blocks) == 1
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", blocks[0]],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env=environment,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    first, last = (float(value) for value in result.stdout.split("->"))
    assert last < first / 2
    assert (tmp_path / "pets.mlspec").exists() and (tmp_path / "pets-updated.mlspec").exists()
