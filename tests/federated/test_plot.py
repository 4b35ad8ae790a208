"""--plot: an SVG whose lines put every round's loss and accuracy where their axes say."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from mlspec.federated.flower import RoundRecord
from mlspec.federated.plot import BOTTOM, HEIGHT, LEFT, RIGHT, TOP, WIDTH, rounds_svg, write_plot

SVG = "{http://www.w3.org/2000/svg}"
RECORDS = [
    RoundRecord(0, 2.30, 0.11, 1.0),
    RoundRecord(1, 1.10, 0.52, 2.0),
    RoundRecord(2, 0.62, 0.81, 3.0),
    RoundRecord(3, 0.45, 0.90, 4.0),
]


def lines(svg: str) -> dict[str, list[tuple[float, float]]]:
    """Each panel's polyline, as (round, value) read back through the panel's axes."""
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    found = {}
    for group in ET.fromstring(svg).iter(f"{SVG}g"):
        (line,) = group.iter(f"{SVG}polyline")
        pairs = [tuple(map(float, point.split(","))) for point in line.attrib["points"].split()]
        found[group.attrib["class"]] = [
            ((x - LEFT) / inner_w, 1.0 - (y - TOP - 24) / inner_h) for x, y in pairs
        ]
    return found


def test_the_lines_trace_loss_and_accuracy_round_by_round() -> None:
    found = lines(rounds_svg(RECORDS, "digits: fedavg, 10 clients"))
    assert set(found) == {"loss", "accuracy"}
    for name, top in (("loss", 2.30), ("accuracy", 1.0)):
        points = found[name]
        assert [round(x * 3, 2) for x, _ in points] == [0, 1, 2, 3]  # round r at r/last of the width
        expected = [getattr(record, name) / top for record in RECORDS]
        assert [fraction for _, fraction in points] == pytest.approx(expected, abs=1e-3)


def test_a_model_without_accuracy_gets_the_loss_panel_only(tmp_path: Path) -> None:
    regression = [RoundRecord(r.round, r.loss, None, r.seconds) for r in RECORDS]
    write_plot(regression, tmp_path / "rounds.svg", "a <regressor> & co")
    text = (tmp_path / "rounds.svg").read_text(encoding="utf-8")
    assert set(lines(text)) == {"loss"}
    assert "a &lt;regressor&gt; &amp; co" in text
