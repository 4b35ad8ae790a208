"""A short run of the importers' fuzzer (tools/fuzz/import_fuzz.py) in the unit suite.

Every mutated file must import or fail with the importer's own error naming the file; the long
run (100,000 inputs of each kind, in child processes that count signals) is documented in
docs/security.md.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from tools.fuzz.import_fuzz import make_input, outcome, seeds_for

SEED = 7


@pytest.mark.parametrize(("kind", "count"), [("onnx", 200), ("coreml", 300)])
def test_mutated_files_end_in_mlspec_errors_only(tmp_path: Path, kind: str, count: int) -> None:
    seeds = seeds_for(kind)
    path = tmp_path / f"input.{'onnx' if kind == 'onnx' else 'mlmodel'}"
    outcomes: Counter[str] = Counter()
    failures: dict[str, tuple[int, str]] = {}
    for index in range(count):
        path.write_bytes(make_input(kind, SEED, index, seeds))
        label, message = outcome(kind, path)
        outcomes[label] += 1
        if not label.startswith(("ok", "error:")):
            failures.setdefault(label, (index, message))
    assert not failures, f"{kind} seed {SEED}: {failures}"
    assert outcomes["ok"] > count // 20, outcomes  # the mutations leave many files importable
    assert sum(v for k, v in outcomes.items() if k.startswith("error:")) > count // 4, outcomes
