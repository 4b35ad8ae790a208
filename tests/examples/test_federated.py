"""The federated example, at its --quick size: it runs, learns, and writes the global spec."""

from __future__ import annotations

from pathlib import Path

from mlspec.spec.io import load
from mlspec.spec.validate import validate
from tests.examples.loader import load_example

federated = load_example("federated")


def test_quick_run_learns_and_writes_the_global_spec(tmp_path: Path) -> None:
    outcome = federated.main(["--quick", "--out", str(tmp_path)])
    rounds = outcome.federated.rounds
    assert [r.round for r in rounds] == [0, 1, 2]
    assert rounds[0].accuracy is not None and rounds[-1].accuracy is not None
    assert rounds[-1].accuracy > rounds[0].accuracy + 0.3  # from chance towards the classes
    assert rounds[-1].loss < rounds[0].loss
    validate(load(tmp_path / "global.mlspec"))
