"""A short run of the spec fuzzer (tools/fuzz/spec_fuzz.py through import_fuzz's driver).

Each mutated spec file must load, validate and (when valid) convert, or fail with mlspec's own
error; never an internal error. The long run, in child processes that count signals and record
peak RSS, is documented in docs/security.md.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from tools.fuzz.import_fuzz import make_input, outcome, seeds_for

SEED = 11
COUNT = 80


def test_mutated_specs_end_in_mlspec_errors_only(tmp_path: Path) -> None:
    seeds = seeds_for("spec")
    path = tmp_path / "input.mlspec"
    outcomes: Counter[str] = Counter()
    failures: dict[str, tuple[int, str]] = {}
    for index in range(COUNT):
        path.write_bytes(make_input("spec", SEED, index, seeds))
        label, message = outcome("spec", path)
        outcomes[label] += 1
        if not label.startswith(("ok", "error:")):
            failures.setdefault(label, (index, message))
    assert not failures, f"spec seed {SEED}: {failures}"
    assert outcomes["ok"] > COUNT // 20, outcomes  # many mutants still validate and convert
    assert outcomes["error:ValidationError"] > COUNT // 4, outcomes
