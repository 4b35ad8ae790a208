"""inspect's tables drawn without rich, character for character as rich draws them.

rich costs about 0.05 s to import, a third of `mlspec inspect`'s start-up. Sent to a pipe or a
file, rich prints no styles, and for inspect's tables (heavy-head box, one space of padding,
columns that fold) its layout follows a few rules that `lines` applies: each column as wide as
its widest cell; when the table is wider than the console, the widest columns shrink together
until it fits; cells and titles wrap at spaces and fold words longer than their column; lines of
text wrap at spaces. `lines` declines (None) whatever lies outside what it copies: a terminal or
a forced one (styles), text other than printable ASCII with single spaces between words (rich
measures wide characters and keeps runs of spaces), a table that cannot shrink enough. The
caller then uses rich. tests/cli/test_plain_tables.py holds both drawings equal on random tables.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from typing import TextIO

from mlspec.cli.inspect_tables import Grid, Part

_RICH_ENVIRONMENT = ("FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE", "JUPYTER_COLUMNS", "JUPYTER_LINES")
"""Variables that make rich style its output or measure it its own way: rich draws then."""

_DEFAULT_WIDTH = 80
"""rich's width when neither COLUMNS nor a terminal gives one."""

_PADDING = 2
"""One space each side of every cell."""


def console_width(stream: TextIO, environ: Mapping[str, str] = os.environ) -> int | None:
    """The width rich's Console would lay `stream` out at, when it would print no styles; else None.

    As rich does: COLUMNS when it is a number, else the size of the first standard stream that is
    a terminal (rich asks stdin, stdout and stderr in turn), else 80."""
    if sys.platform == "win32" or any(name in environ for name in _RICH_ENVIRONMENT):
        return None
    try:
        if stream.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    columns = environ.get("COLUMNS")
    if columns is not None and columns.isdigit():
        return int(columns) or None
    for descriptor in (0, 1, 2):
        try:
            return os.get_terminal_size(descriptor).columns or _DEFAULT_WIDTH
        except (AttributeError, ValueError, OSError):
            continue
    return _DEFAULT_WIDTH


def _plain(text: str) -> bool:
    """Printable ASCII with single spaces between words: one character is one column."""
    return all(" " <= char <= "~" for char in text) and "  " not in text and text == text.strip()


def wrap(text: str, width: int, *, pad: bool) -> list[str]:
    """`text` (`_plain`) broken into lines of at most `width` columns, as rich breaks it.

    A word goes on the next line when it does not fit on this one; a word wider than a whole
    line is cut into pieces of `width`. A line keeps the space after its last word unless that
    space passes `width`. With `pad`, lines are filled with spaces to `width` (cells, titles)."""
    breaks: list[int] = []
    used = start = 0
    tokens = text.split(" ")
    for index, token in enumerate(tokens):
        word = token if index == len(tokens) - 1 else f"{token} "
        if width - used >= len(token):
            used += len(word)
        elif len(token) > width:
            pieces = [word[at : at + width] for at in range(0, len(word), width)]
            piece_start = start
            for piece in pieces:
                if piece_start:
                    breaks.append(piece_start)
                piece_start += len(piece)
            used = len(pieces[-1])
        elif used and start:
            breaks.append(start)
            used = len(word)
        start += len(word)
    lines = [text[begin:end] for begin, end in zip([0, *breaks], [*breaks, len(text)], strict=True)]
    lines = [(line[:-1] if len(line) > width and line.endswith(" ") else line)[:width] for line in lines]
    return [line.ljust(width) for line in lines] if pad else lines


def lines(parts: list[Part], width: int) -> list[str] | None:
    """`parts` drawn as rich draws them at `width`, or None when this drawing cannot promise that."""
    drawn: list[str] = []
    for part in parts:
        if isinstance(part, str):
            if not _plain(part):
                return None
            drawn.extend(wrap(part, width, pad=False))
            continue
        table = _table(part, width)
        if table is None:
            return None
        drawn.extend(table)
    return drawn


def _column_widths(cells: list[tuple[str, ...]], room: int) -> list[int] | None:
    """Each column's width, padding included, in `room` columns; None below what rich would draw.

    Widest cell first; when the sum is over `room`, the widest columns shrink together to the next
    widest until it fits, then all shrink alike."""
    widths = [min(max(len(row[index]) for row in cells) + _PADDING, room) for index in range(len(cells[0]))]
    while sum(widths) > room and max(widths):
        widest = max(widths)
        second = max((width for width in widths if width != widest), default=0)
        excess = sum(widths) - room
        shares = [1 if width == widest else 0 for width in widths]
        widths = _shrink(excess, shares, [min(excess, widest - second)] * len(widths), widths)
    if sum(widths) > room or min(widths) <= _PADDING:
        return None
    return widths


def _shrink(total: int, shares: list[int], limits: list[int], widths: list[int]) -> list[int]:
    """Take `total` columns off `widths` in proportion to `shares`, at most `limits` from each."""
    shares = [share if limit else 0 for share, limit in zip(shares, limits, strict=True)]
    left_shares = sum(shares)
    result = []
    for share, limit, width in zip(shares, limits, widths, strict=True):
        if share and left_shares > 0:
            taken = min(limit, round(share * total / left_shares))
            result.append(width - taken)
            total -= taken
            left_shares -= share
        else:
            result.append(width)
    return result


def _table(grid: Grid, width: int) -> list[str] | None:
    cells = [grid.columns, *grid.rows]
    if not all(_plain(cell) for row in cells for cell in row) or not _plain(grid.title):
        return None
    borders = len(grid.columns) + 1
    if width - borders <= _PADDING:
        return None
    widths = _column_widths(cells, width - borders)
    if widths is None:
        return None
    table_width = sum(widths) + borders

    def rule(left: str, line: str, middle: str, right: str) -> str:
        return left + middle.join(line * size for size in widths) + right

    def row(edge: str, values: tuple[str, ...]) -> list[str]:
        """One table row; rich sets header cells at the bottom of their row, others at the top."""
        columns = [wrap(value, size - _PADDING, pad=True) for value, size in zip(values, widths, strict=True)]
        height = max(len(column) for column in columns)
        for column, size in zip(columns, widths, strict=True):
            blank = [" " * (size - _PADDING)] * (height - len(column))
            at = 0 if edge == "┃" else len(column)
            column[at:at] = blank
        return [edge + edge.join(f" {column[line]} " for column in columns) + edge for line in range(height)]

    body = [line for values in grid.rows for line in row("│", values)]
    head = [rule("┏", "━", "┳", "┓"), *row("┃", grid.columns), rule("┡", "━", "╇", "┩")]
    return [*wrap(grid.title, table_width, pad=True), *head, *body, rule("└", "─", "┴", "┘")]
