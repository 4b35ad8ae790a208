"""The golden fixtures (tests/golden/expected/) match what mlspec makes of tests/golden/specs/.

A manifest key renamed in both writer and reader, or a changed graph form, passes every round-trip
test; it fails here. After an intended change: `python tools/golden.py`, then review the diff.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from tests.support.tools import run_tool

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "golden"


def run_check(golden: Path) -> subprocess.CompletedProcess[str]:
    return run_tool(ROOT / "tools" / "golden.py", "--check", "--golden", str(golden))


def test_golden_fixtures_are_current() -> None:
    result = run_check(GOLDEN)
    assert result.returncode == 0, result.stderr
    assert "6 golden fixtures match" in result.stdout


def test_check_fails_when_a_manifest_key_is_renamed(tmp_path: Path) -> None:
    """The copy's expected manifest says `feed_order` under another name, as a writer rename would."""
    copy = tmp_path / "golden"
    shutil.copytree(GOLDEN, copy, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    manifest = copy / "expected" / "mlp_classifier" / "manifest.json"
    data = json.loads(manifest.read_text())
    data["input_order"] = data.pop("feed_order")
    manifest.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    result = run_check(copy)
    assert result.returncode == 1
    assert "mlp_classifier/manifest.json" in result.stderr and "ops.json" not in result.stderr
