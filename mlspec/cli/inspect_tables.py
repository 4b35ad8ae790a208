"""The tables of `mlspec inspect`: a rendering of the builder's `inspect_model` summary.

`render` lays the summary out as lines of text and `Grid`s (a table's title, headers and rows of
plain cells), importing nothing. rich draws them (`print_rich`); plain_tables.py draws the same
characters itself where it can promise rich would, which spares rich's import (a third of
`inspect`'s start-up) when the output goes to a pipe or a file.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO, TypeVar

from mlspec.spec.text import printable

T = TypeVar("T")

_SHOWN_SET = 12
"""Allowed-value sets longer than this show their first values and their size."""

_HEAD_ROWS, _TAIL_ROWS = 30, 10
"""A table of more rows than these two together shows its first and last rows and one row counting
the rest (`inspect --json` lists every row). rich lays out every row it is given: a spec of 1,000
layers took 5 s to print, 100,000 would take minutes and a terminal no one reads."""

_SHOWN_LABELS = 50
"""Class labels past this many are counted, not listed."""


@dataclass
class Grid:
    """One table: its title, column headers and rows of plain-text cells (escaped by `printable`)."""

    title: str
    columns: tuple[str, ...]
    rows: list[tuple[str, ...]] = field(default_factory=list)
    notes: set[int] = field(default_factory=set)
    """The rows that count rows left out ("... N more"), set in italics."""


Part = Grid | str
"""A table, or one line of text."""


def print_rich(parts: list[Part], file: TextIO, *, width: int | None = None) -> None:
    """Draw `parts` with rich; the width and styles are rich's own choice for `file` unless given."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console(file=file, highlight=False, soft_wrap=False, width=width)
    for part in parts:
        if isinstance(part, str):
            console.print(Text(part))
            continue
        table = Table(title=Text(part.title), title_justify="left")
        for column in part.columns:
            table.add_column(Text(column), overflow="fold")
        # Cells are Text, not strings: shapes such as [batch, 4] would otherwise be read as markup.
        for index, row in enumerate(part.rows):
            style = "italic" if index in part.notes else ""
            table.add_row(Text(row[0], style=style), *(Text(cell) for cell in row[1:]))
        console.print(table)


def render(summary: dict[str, Any], *, title: str) -> list[Part]:
    """The summary as tables, in the order a reader decides with: network, then training."""
    updatable = "updatable" if summary["is_updatable"] else "not updatable"
    parts: list[Part] = [
        printable(
            f"{title}: {summary['name'] or '(unnamed)'}, spec version {summary['spec_version']}, "
            f"{summary['parameter_count']:,} parameters, {updatable}"
        ),
        _features("Inputs", summary["inputs"]),
        *_images(summary["inputs"]),
        _features("Outputs", summary["outputs"]),
        _layers(summary["layers"]),
    ]
    if summary["losses"]:
        parts.append(_losses(summary["losses"]))
    if summary["optimizer"] is not None:
        parts.append(_optimizer(summary["optimizer"]))
    if summary["knn"] is not None:
        parts.append(_knn(summary["knn"]))
    elif summary["is_updatable"]:
        parts.append(_run_settings(summary))
    if summary["training_inputs"]:
        parts.append(_features("Training inputs", summary["training_inputs"]))
    if summary["class_labels"]:
        labels = summary["class_labels"]
        shown_labels = ", ".join(str(label) for label in labels[:_SHOWN_LABELS])
        if len(labels) > _SHOWN_LABELS:
            shown_labels += f", ... {len(labels) - _SHOWN_LABELS:,} more (--json lists all)"
        parts.append(printable(f"Class labels ({len(labels):,}): {shown_labels}"))
    return parts


def _knn(knn: dict[str, Any]) -> Grid:
    table = _table("k-NN classifier", "setting", "value")
    k = knn["k"]
    allowed = f"range {k['range']}" if "range" in k else f"set {k.get('set')}"
    per_label = ", ".join(f"{label}: {count}" for label, count in knn["examples_per_label"].items())
    for name, value in (
        ("compares", f"{knn['feature_name']} ({knn['dimensions']} values)"),
        ("k", f"{k['default']} ({allowed})"),
        ("distance", knn["distance"]),
        ("weighting", knn["weighting"]),
        ("vote tie", knn["vote_tie"]),
        ("default label", repr(knn["default_label"])),
        ("examples", f"{knn['example_count']:,} ({per_label or 'none'})"),
    ):
        _row(table, name, str(value))
    return table


def _table(title: str, *columns: str) -> Grid:
    return Grid(title, columns)


def _shown(items: Sequence[T]) -> Iterator[T | int]:
    """The items a table shows: all of a short list; else the first and last rows, and between them
    the number left out (for the caller's "... N more" row)."""
    if len(items) <= _HEAD_ROWS + _TAIL_ROWS:
        yield from items
        return
    yield from items[:_HEAD_ROWS]
    yield len(items) - _HEAD_ROWS - _TAIL_ROWS
    yield from items[-_TAIL_ROWS:]


def _more(table: Grid, left_out: int) -> None:
    table.notes.add(len(table.rows))
    table.rows.append((f"... {left_out:,} more", *([""] * (len(table.columns) - 1))))


def _titled(title: str, items: Sequence[object]) -> str:
    """A table's title, with its row count and where to find every row when rows are left out."""
    if len(items) <= _HEAD_ROWS + _TAIL_ROWS:
        return title
    return f"{title} ({len(items):,}; --json lists all)"


def _row(table: Grid, *cells: str) -> None:
    """Names come from the file: their control characters are escaped, not sent to the terminal."""
    table.rows.append(tuple(printable(cell) for cell in cells))


def _shape(dims: Sequence[int | str | None] | None) -> str:
    if dims is None:
        return "?"
    return "[" + ", ".join("?" if dim is None else str(dim) for dim in dims) + "]"


def _features(title: str, features: list[dict[str, Any]]) -> Grid:
    table = _table(_titled(title, features), "name", "type", "dtype", "shape")
    for feature in _shown(features):
        if isinstance(feature, int):
            _more(table, feature)
            continue
        kind = "image" if feature.get("image") else feature["type"]
        _row(table, feature["name"], kind, feature["dtype"], _shape(feature["shape"]))
    return table


def _images(features: list[dict[str, Any]]) -> list[str]:
    """One line per image input: how pixels (0..255) become the tensor the network reads."""
    lines = []
    for feature in features:
        image = feature.get("image")
        if image is None:
            continue
        scale, bias = _values(image["scale"]), image["bias"]
        negative = max(bias) < 0 and len(set(bias)) == 1
        offset = f"- {_values([-b for b in bias])}" if negative else f"+ {_values(bias)}"
        text = f"Image {feature['name']}: {image['width']}x{image['height']} {image['color_space']}, "
        lines.append(printable(f"{text}value = pixel * {scale} {offset}"))
    return lines


def _values(values: list[float]) -> str:
    """One number when every channel shares it, else one per channel."""
    if len(set(values)) == 1:
        return f"{values[0]:.6g}"
    return "(" + ", ".join(f"{value:.6g}" for value in values) + ")"


def _layers(layers: list[dict[str, Any]]) -> Grid:
    table = _table(_titled("Layers", layers), "name", "kind", "output shape", "parameters", "updatable")
    for layer in _shown(layers):
        if isinstance(layer, int):
            _more(table, layer)
            continue
        trained = ", ".join(layer["updatable_tensors"]) if layer["is_updatable"] else ""
        _row(
            table,
            layer["name"],
            layer["kind"] or "?",
            _shape(layer["output_shape"]),
            f"{layer['parameter_count']:,}",
            f"yes ({trained})" if trained else ("yes" if layer["is_updatable"] else "no"),
        )
    return table


def _losses(losses: list[dict[str, Any]]) -> Grid:
    table = _table(_titled("Losses", losses), "name", "kind", "input", "target", "weight", "options")
    for loss in _shown(losses):
        if isinstance(loss, int):
            _more(table, loss)
            continue
        common = {"name", "kind", "input", "target", "weight"}
        options = ", ".join(f"{key}={value}" for key, value in loss.items() if key not in common)
        _row(table, loss["name"], loss["kind"], loss["input"], loss["target"], f"{loss['weight']:g}", options)
    return table


def _allowed(param: dict[str, Any]) -> str:
    if "range" in param:
        low, high = param["range"]
        return f"[{low:g}, {high:g}]"
    if "set" in param:
        values = param["set"]
        more = f", ... ({len(values)} values)" if len(values) > _SHOWN_SET else ""
        return "{" + ", ".join(f"{value:g}" for value in values[:_SHOWN_SET]) + more + "}"
    return "-"


def _default(param: dict[str, Any] | None) -> str:
    if param is None:
        return "-"
    value = param["default"]
    return str(value).lower() if isinstance(value, bool) else f"{value:g}"


def _optimizer(optimizer: dict[str, Any]) -> Grid:
    table = _table(f"Optimizer: {optimizer['kind']}", "setting", "default", "allowed")
    for name, param in optimizer["hyperparameters"].items():
        _row(table, name, _default(param), _allowed(param))
    return table


def _run_settings(summary: dict[str, Any]) -> Grid:
    table = _table("Run settings", "setting", "default", "allowed")
    epochs, seed, clipping = summary["epochs"], summary["seed"], summary["clipping"]
    _row(table, "epochs", _default(epochs), _allowed(epochs) if epochs else "-")
    shuffle = summary["shuffle"]
    _row(table, "shuffle", "-" if shuffle is None else str(shuffle).lower(), "true, false")
    _row(table, "seed", _default(seed), _allowed(seed) if seed else "-")
    if clipping is not None:
        _row(table, clipping["name"], _default(clipping), _allowed(clipping))
    if "proximal_mu" in summary:
        _row(table, "proximal_mu", _default(summary["proximal_mu"]), _allowed(summary["proximal_mu"]))
    augmentation = summary.get("augmentation")
    if augmentation:
        shown = ", ".join(f"{key}={value}" for key, value in augmentation.items() if value)
        _row(table, "augmentation", "on", shown)
    schedule = summary["lr_schedule"]
    if schedule:
        details = ", ".join(f"{key}={value}" for key, value in schedule.items() if key != "kind")
        _row(table, "lr schedule", schedule["kind"], details)
    return table
