"""plain_tables draws inspect's tables exactly as rich does, or declines and leaves them to rich.

The drawing copies rich's layout rules (column widths, shrinking, wrapping, folding); these tests
hold it to rich itself on thousands of random tables and texts at random widths, on the summaries
of real specs, and check that the console width it assumes is the one rich picks.
"""

from __future__ import annotations

import io
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest

from mlspec.builder.inspect import inspect_model
from mlspec.cli import plain_tables
from mlspec.cli.inspect_tables import Grid, Part, print_rich, render
from mlspec.spec import graph
from mlspec.spec.io import load
from tests.cli import specs
from tests.cli.test_inspect_width import _wide_model

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "specs"


def rich_drawing(parts: list[Part], width: int) -> str:
    buffer = io.StringIO()
    print_rich(parts, buffer, width=width)
    return buffer.getvalue()


def plain_drawing(parts: list[Part], width: int) -> str | None:
    drawn = plain_tables.lines(parts, width)
    return None if drawn is None else "".join(f"{line}\n" for line in drawn)


def _words(rng: random.Random, most: int, *, empty: bool = True) -> str:
    alphabet = "abcdefghij_=.,()[]0123456789"
    count = rng.randint(0 if empty else 1, most)
    sizes = (1, 2, 3, 5, 8, 12, 20, 35)
    return " ".join("".join(rng.choice(alphabet) for _ in range(rng.choice(sizes))) for _ in range(count))


def _random_parts(rng: random.Random) -> list[Part]:
    parts: list[Part] = []
    for _ in range(rng.randint(1, 3)):
        if rng.random() < 0.3:
            parts.append(_words(rng, 12, empty=False))
            continue
        count = rng.randint(1, 6)
        grid = Grid(_words(rng, 4, empty=False), tuple(_words(rng, 2, empty=False) for _ in range(count)))
        for _ in range(rng.randint(0, 4)):
            grid.rows.append(tuple(_words(rng, 4) for _ in range(count)))
        if grid.rows and rng.random() < 0.3:
            grid.notes.add(0)
        parts.append(grid)
    return parts


@pytest.mark.parametrize("seed", range(4))
def test_random_tables_are_drawn_as_rich_draws_them(seed: int) -> None:
    rng = random.Random(seed)
    drawn = wrapped = 0
    for _ in range(500):
        parts, width = _random_parts(rng), rng.randint(10, 140)
        plain = plain_drawing(parts, width)
        if plain is None:
            continue
        assert plain == rich_drawing(parts, width), (width, parts)
        drawn += 1
        rows = sum(len(part.rows) + 5 for part in parts if isinstance(part, Grid))
        wrapped += plain.count("\n") > rows + sum(isinstance(part, str) for part in parts)
    # Most cases are drawn (not declined), and many of them needed wrapping or folding.
    assert drawn > 450 and wrapped > 150


@pytest.mark.parametrize("width", [40, 60, 80, 100, 160])
def test_inspect_of_real_specs_is_drawn_as_rich_draws_it(width: int, tmp_path: Path) -> None:
    models = {path.name: load(path) for path in sorted(GOLDEN.glob("*.pbtxt"))}
    models["updatable"] = specs.updatable_classifier()
    models["wide"] = _wide_model().spec
    for name, model in models.items():
        summary = {**inspect_model(model), "class_labels": graph.class_labels(model)}
        parts = render(summary, title=f"/tmp/{name}")
        plain = plain_drawing(parts, width)
        assert plain is not None, name
        assert plain == rich_drawing(parts, width), name


@pytest.mark.parametrize(
    "text", ["caf\u00e9 au lait", "two  spaces", " leading", "trailing ", "tab\there", "wide \u732b"]
)
def test_text_rich_measures_differently_is_left_to_rich(text: str) -> None:
    assert plain_tables.lines([text], 80) is None
    assert plain_tables.lines([Grid("t", ("name",), [(text,)])], 80) is None
    assert plain_tables.lines([Grid(text, ("name",), [("x",)])], 80) is None


def test_a_table_too_narrow_to_draw_is_left_to_rich() -> None:
    grid = Grid("t", tuple(f"c{index}" for index in range(30)), [tuple("x" for _ in range(30))])
    assert plain_tables.lines([grid], 60) is None
    assert plain_tables.lines([grid], 200) is not None


WIDTH_PROBE = """
import sys
from rich.console import Console
from mlspec.builder.inspect import inspect_model
from mlspec.cli import plain_tables
print(plain_tables.console_width(sys.stdout), Console(file=sys.stdout).width)
"""


@pytest.mark.parametrize("columns", [None, "100", "33", "wide"])
def test_the_width_is_the_one_rich_picks(columns: str | None) -> None:
    env = {key: value for key, value in os.environ.items() if key != "COLUMNS"}
    if columns is not None:
        env["COLUMNS"] = columns
    done = subprocess.run(
        [sys.executable, "-c", WIDTH_PROBE],
        capture_output=True,
        text=True,
        env=env,
        stdin=subprocess.DEVNULL,
        check=True,
        timeout=60,
    )
    ours, rich_width = done.stdout.split()
    assert ours == rich_width
    assert int(ours) == (int(columns) if columns and columns.isdigit() else 80)


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_terminals_and_forced_styles_are_left_to_rich() -> None:
    assert plain_tables.console_width(_Terminal(), {}) is None
    assert plain_tables.console_width(io.StringIO(), {"FORCE_COLOR": "1"}) is None
    assert plain_tables.console_width(io.StringIO(), {"TTY_COMPATIBLE": "1"}) is None
    assert plain_tables.console_width(io.StringIO(), {"COLUMNS": "90"}) == 90
