#!/usr/bin/env python3
"""Regenerate (or, with --check, compare) the golden fixtures under tests/golden/.

For each small spec in tests/golden/specs/*.pbtxt the fixtures record what mlspec makes of it:
the training artifacts' manifest.json exactly as written, the op types of the inference,
training and eval graphs in node order, and `mlspec inspect --json`. Round-trip tests cannot see
a renamed manifest key or a changed graph form when writer and reader change together; a diff
against these files can. After an intended change, run this script and review the diff.

    python tools/golden.py           # rewrite tests/golden/expected/
    python tools/golden.py --check   # exit 1 naming every fixture that differs
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import onnx

from mlspec.backends import to_training_artifacts
from mlspec.spec.io import load

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
GRAPHS = {"inference": "inference_model.onnx", "training": "training_model.onnx", "eval": "eval_model.onnx"}


def _artifacts(spec: Path, work: Path) -> dict[str, str]:
    out = work / spec.stem
    to_training_artifacts(load(spec), out)
    ops = {name: [node.op_type for node in onnx.load(out / file).graph.node] for name, file in GRAPHS.items()}
    inspected = subprocess.run(
        [sys.executable, "-m", "mlspec", "inspect", str(spec), "--json"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout
    return {
        "manifest.json": (out / "manifest.json").read_text(encoding="utf-8"),
        "ops.json": json.dumps(ops, indent=2) + "\n",
        "inspect.json": inspected,
    }


def generate(golden: Path) -> dict[Path, str]:
    """Expected file path -> content, for every golden spec."""
    files: dict[Path, str] = {}
    with tempfile.TemporaryDirectory() as work:
        for spec in sorted((golden / "specs").glob("*.pbtxt")):
            for name, text in _artifacts(spec, Path(work)).items():
                files[golden / "expected" / spec.stem / name] = text
    return files


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="compare instead of writing; exit 1 on a difference"
    )
    parser.add_argument(
        "--golden", type=Path, default=GOLDEN, help="the fixture folder (default: tests/golden)"
    )
    args = parser.parse_args(argv)
    files = generate(args.golden)
    expected_dir = args.golden / "expected"
    if args.check:
        stale = [
            path for path, text in files.items() if not path.is_file() or path.read_text("utf-8") != text
        ]
        extra = [path for path in expected_dir.rglob("*.json") if path not in files]
        for path in stale + extra:
            print(f"golden fixture differs: {path}", file=sys.stderr)
        if stale or extra:
            print("review the change, then run: python tools/golden.py", file=sys.stderr)
            return 1
        print(f"{len(files)} golden fixtures match")
        return 0
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    print(f"wrote {len(files)} golden fixtures under {expected_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
