"""`mlspec evaluate`'s text report, laid out to fit the terminal (80 columns when it is unknown).

The confusion matrix is the part that grows with the number of classes, so it picks a layout:
- columns headed by class labels when every label is as short as a cell;
- otherwise columns headed by class numbers, rows by number and label;
- a matrix wider than the terminal is shown in column blocks, one under the other;
- beyond MATRIX_CLASSES classes, no grid reads well: the report lists the most frequent
  confusions instead and `--json` keeps the whole matrix.
Class labels longer than NAME_WIDTH are cut with an ellipsis and the rows then start with the
class number (`--json` keeps labels whole).
"""

from __future__ import annotations

import shutil
from typing import Any

NAME_WIDTH = 16
MATRIX_CLASSES = 20
TOP_CONFUSIONS = 10


def text_report(report: dict[str, Any]) -> list[str]:
    """The report's lines, none wider than the terminal."""
    lines = [f"{report['model']} on {report['data']}: {report['examples']} examples"]
    lines.append(f"loss      {report['loss']:.4f}")
    if report["accuracy"] is not None:
        lines.append(f"accuracy  {report['accuracy']:.4f}")
    if "classes" not in report:
        return lines
    labels: list[str] = report["classes"]
    matrix: list[list[int]] = report["confusion_matrix"]
    names = [_cut(label) for label in labels]
    rows = names if names == labels else _numbered(names)
    width = max(8, *(len(row) for row in rows))
    lines.append("")
    lines.append(f"{'class':<{width}}  examples  accuracy")
    for label, name, row in zip(labels, rows, matrix, strict=True):
        accuracy = report["per_class_accuracy"][label]
        shown = "-" if accuracy is None else f"{accuracy:.4f}"
        lines.append(f"{name:<{width}}  {sum(row):>8}  {shown:>8}")
    lines.append("")
    columns = max(40, shutil.get_terminal_size((80, 24)).columns)
    if len(labels) > MATRIX_CLASSES:
        return lines + _top_confusions(rows, matrix)
    return lines + _matrix(names, matrix, columns)


def _cut(label: str) -> str:
    return label if len(label) <= NAME_WIDTH else label[: NAME_WIDTH - 1] + "…"


def _numbered(names: list[str]) -> list[str]:
    """Names led by the class number, which tells apart labels an ellipsis made alike."""
    digits = len(str(len(names) - 1))
    return [f"{index:>{digits}} {name}" for index, name in enumerate(names)]


def _matrix(names: list[str], matrix: list[list[int]], columns: int) -> list[str]:
    value_width = max(len(str(value)) for row in matrix for value in row)
    by_label = max(len(name) for name in names) <= max(value_width, 5)
    if by_label:
        heads, rows = names, names
    else:
        heads = [str(index) for index in range(len(names))]
        rows = _numbered(names)
    cell = max(value_width, *(len(head) for head in heads))
    row_width = max(len(row) for row in rows)
    gap = 2 if row_width + len(names) * (cell + 2) <= columns else 1
    fit = max(1, (columns - row_width) // (cell + gap))
    blocks = -(-len(names) // fit)
    per_block = -(-len(names) // blocks)  # blocks of even width
    title = "confusion matrix (rows: true class, columns: predicted class"
    lines = [title + (")" if by_label else " by number)")]
    for start in range(0, len(names), per_block):
        block = range(start, min(start + per_block, len(names)))
        if per_block < len(names):
            lines.append(f"predicted classes {heads[block[0]]} to {heads[block[-1]]}:")
        pad = " " * gap
        lines.append(" " * row_width + "".join(f"{pad}{heads[i]:>{cell}}" for i in block))
        for row, values in zip(rows, matrix, strict=True):
            lines.append(f"{row:<{row_width}}" + "".join(f"{pad}{values[i]:>{cell}}" for i in block))
    return lines


def _top_confusions(names: list[str], matrix: list[list[int]]) -> list[str]:
    pairs = sorted(
        ((count, true, predicted) for true, row in enumerate(matrix) for predicted, count in enumerate(row)),
        key=lambda item: (-item[0], item[1], item[2]),
    )
    wrong = [(count, true, predicted) for count, true, predicted in pairs if count and true != predicted]
    lines = [f"confusion matrix: {len(names)} classes, too many for a grid (--json has it all)"]
    if not wrong:
        return [*lines, "no example was misclassified"]
    shown = wrong[:TOP_CONFUSIONS]
    lines.append(f"most frequent confusions ({len(shown)} of {len(wrong)}):")
    width = max(len(names[true]) for _, true, _ in shown)
    for count, true, predicted in shown:
        lines.append(f"  {names[true]:<{width}} -> {names[predicted]:<{NAME_WIDTH}}  {count:>6}")
    return lines
