"""`--plot`: the global model's loss and accuracy per round as an SVG file, written by hand.

SVG keeps the plot free of any plotting library (mlspec[federated] adds Flower only) and
readable in every browser and in a diff. Two panels side by side share the round axis: loss
(its axis from 0 to the largest loss) and, for classifiers, accuracy (0 to 100%).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from xml.sax.saxutils import escape

from mlspec.federated.flower import RoundRecord
from mlspec.spec.atomic import write_bytes_atomic

WIDTH, HEIGHT = 360, 240  # one panel
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 32, 40  # margins inside a panel
TICKS = 4


def write_plot(records: Sequence[RoundRecord], path: Path, title: str) -> None:
    """Write the rounds' loss (and accuracy, when scored) to `path` as SVG, atomically."""
    write_bytes_atomic(path, rounds_svg(records, title).encode("utf-8"))


def rounds_svg(records: Sequence[RoundRecord], title: str) -> str:
    rounds = [record.round for record in records]
    losses = [record.loss for record in records]
    panels = [_panel("loss", rounds, losses, top=max(*losses, 1e-12), label="{:.3g}", x0=0)]
    accuracies = [record.accuracy for record in records]
    if all(value is not None for value in accuracies):
        scored = [float(value) for value in accuracies if value is not None]
        panels.append(_panel("accuracy", rounds, scored, top=1.0, label="{:.0%}", x0=WIDTH))
    width = WIDTH * len(panels)
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{HEIGHT + 24}" '
            f'viewBox="0 0 {width} {HEIGHT + 24}" font-family="sans-serif" font-size="11">',
            f'<rect width="{width}" height="{HEIGHT + 24}" fill="white"/>',
            f'<text x="{width / 2}" y="16" text-anchor="middle" font-size="13">{escape(title)}</text>',
            *panels,
            "</svg>",
            "",
        ]
    )


def _panel(name: str, rounds: list[int], values: list[float], *, top: float, label: str, x0: int) -> str:
    """One line chart: rounds along x, `values` from 0 to `top` along y, in a group shifted by x0."""
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    last = max(rounds[-1], 1)

    def x(round_: float) -> float:
        return LEFT + inner_w * round_ / last

    def y(value: float) -> float:
        return TOP + 24 + inner_h * (1.0 - value / top)

    parts = [f'<g transform="translate({x0},0)" class="{name}">']
    parts.append(
        f'<text x="{LEFT + inner_w / 2}" y="{TOP + 14}" text-anchor="middle">{name} per round</text>'
    )
    for tick in range(TICKS + 1):
        value = top * tick / TICKS
        parts.append(
            f'<line x1="{LEFT}" x2="{LEFT + inner_w}" y1="{y(value):.2f}" y2="{y(value):.2f}" stroke="#ddd"/>'
        )
        parts.append(
            f'<text x="{LEFT - 6}" y="{y(value) + 4:.2f}" text-anchor="end">{label.format(value)}</text>'
        )
    for round_ in sorted({rounds[0], rounds[len(rounds) // 2], rounds[-1]}):
        parts.append(
            f'<text x="{x(round_):.2f}" y="{TOP + 24 + inner_h + 16}" text-anchor="middle">{round_}</text>'
        )
    parts.append(f'<text x="{LEFT + inner_w / 2}" y="{HEIGHT + 18}" text-anchor="middle">round</text>')
    points = " ".join(f"{x(r):.2f},{y(v):.2f}" for r, v in zip(rounds, values, strict=True))
    parts.append(f'<polyline points="{points}" fill="none" stroke="#1f77b4" stroke-width="2"/>')
    parts.append("</g>")
    return "\n".join(parts)
