"""`inspect` on big specs (issue 16): time linear in layers and allowed values, and a table of
thousands of layers summarised rather than laid out row by row (rich took 5 s per 1,000 rows; an
800,000-value allowed set took 36 s). Rule: a table of more than 40 rows shows its first 30 and
last 10 and a row counting the rest; `--json` lists every row."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.cli import specs
from tests.cli.conftest import invoke
from tests.support.chains import updatable_chain


def _layer_rows(stdout: str) -> list[str]:
    """The first cell of each row of the Layers table."""
    table = stdout[stdout.index("Layers") : stdout.index("Losses")]
    return [line.split("│")[1].strip() for line in table.splitlines() if line.startswith("│")]


def _inspect_seconds(path: Path) -> float:
    started = time.perf_counter()
    result = invoke("inspect", path)
    assert result.exit_code == 0, result.output
    return time.perf_counter() - started


def test_inspect_of_thousands_of_layers_shows_first_and_last_rows_and_the_count(tmp_path: Path) -> None:
    path = specs.write(updatable_chain(2_000), tmp_path / "chain.mlspec")
    result = invoke("inspect", path)
    assert result.exit_code == 0, result.output
    shown = [f"l{i}" for i in range(30)] + ["... 1,960 more"] + [f"l{i}" for i in range(1_990, 2_000)]
    assert _layer_rows(result.stdout) == shown
    assert "Layers (2,000; --json lists all)" in result.stdout
    assert "8,000 parameters" in " ".join(result.stdout.split())  # the header counts every layer
    listed = json.loads(invoke("inspect", path, "--json").stdout)["layers"]
    assert [layer["name"] for layer in listed] == [f"l{i}" for i in range(2_000)]


def test_inspect_of_a_small_spec_lists_every_layer(tmp_path: Path) -> None:
    path = specs.write(updatable_chain(40), tmp_path / "chain.mlspec")
    result = invoke("inspect", path)
    assert "Layers (" not in result.stdout
    assert _layer_rows(result.stdout) == [f"l{i}" for i in range(40)]


def test_inspect_time_is_linear_in_layers(tmp_path: Path) -> None:
    small = specs.write(updatable_chain(2_000), tmp_path / "small.mlspec")
    large = specs.write(updatable_chain(16_000), tmp_path / "large.mlspec")
    _inspect_seconds(small)  # warm-up: imports
    ratio = _inspect_seconds(large) / _inspect_seconds(small)
    assert ratio < 20, ratio  # linear is 8x; quadratic 64x


def test_inspect_of_an_800k_value_allowed_set_shows_12_values_and_the_count(tmp_path: Path) -> None:
    spec = specs.updatable_classifier()
    allowed = spec.update_parameters.optimizer.sgd.mini_batch_size
    del allowed.set.values[:]
    allowed.set.values.extend(range(1, 800_001))
    path = specs.write(spec, tmp_path / "many.mlspec")
    assert _inspect_seconds(path) < 10  # 36 s when every value was printed
    result = invoke("inspect", path)
    optimizer = result.stdout[result.stdout.index("Optimizer") : result.stdout.index("Run settings")]
    rows = [line.split("│") for line in optimizer.splitlines() if line.startswith("│")]
    shown = "".join(cells[3].strip() for cells in rows)  # the allowed column, folded over lines
    assert "{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, ... (800000 values)}" in shown
