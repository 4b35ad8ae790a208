"""Running a script from tools/ the way CI does: a fresh interpreter, output captured, never raising.

Tests of a tool's --check mode assert on its exit status and output, so the helper returns the
completed process whatever the status was.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def run_tool(script: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """`python <script> <args>` with stdout and stderr captured as text."""
    return subprocess.run(
        [sys.executable, str(script), *args], capture_output=True, text=True, check=False, timeout=timeout
    )
