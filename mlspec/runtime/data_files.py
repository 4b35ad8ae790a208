"""Data files as users have them: an .npz of named arrays, a CSV with a header, or a folder of images.

Each reader turns a path into what `as_source` already understands (a dict of arrays, or a batch
provider that loads examples on demand), so every format goes through the same checks. The format
is detected from the path (a folder holds images, `.csv` is CSV, anything else is read as .npz)
or named with `DataFile(format=...)` / the CLI's `--data-format`.

Memory: a CSV is read whole, an .npz only the arrays the model needs (within a budget, see
`npz`); an image folder is only listed up front and each image is decoded when its mini-batch
is built, so a folder bigger than memory trains in bounded memory.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from mlspec.runtime.data_error import DataError
from mlspec.runtime.features import FeatureSpec
from mlspec.runtime.images import ImageFolder
from mlspec.runtime.npz import budget_bytes, load_npz, regular_data_file

Array = npt.NDArray[np.generic]
DataFormat = Literal["npz", "csv", "images"]
FORMATS: tuple[DataFormat, ...] = ("npz", "csv", "images")


@dataclass(frozen=True)
class DataFile:
    """A data file or folder and how to read it; every field but `path` is optional.

    `features` picks a CSV's feature columns: names, or prefixes ending in `*` (`pixel*`), in the
    order the model's input takes them; by default every column but the label column.
    `label_column` is the CSV column holding the target; by default the column named like the
    model's target, else one named `label`.
    """

    path: Path
    format: DataFormat | None = None
    features: tuple[str, ...] = ()
    label_column: str | None = None

    @classmethod
    def checked(
        cls, path: Path, data_format: str | None, features: tuple[str, ...], label_column: str | None
    ) -> DataFile:
        """A DataFile from untyped options (the CLI's), refusing an unknown format by name."""
        if data_format is not None and data_format not in FORMATS:
            raise DataError(f"--data-format {data_format!r} is not one of {', '.join(FORMATS)}")
        return cls(path, data_format, features, label_column)

    def detected_format(self) -> DataFormat:
        if self.format is not None:
            return self.format
        if self.path.is_dir():
            return "images"
        return "csv" if self.path.suffix.lower() == ".csv" else "npz"

    def read(self, features: Sequence[FeatureSpec]) -> Mapping[str, npt.ArrayLike] | ImageFolder:
        """Arrays keyed by feature name, or a provider; checked afterwards by `as_source`."""
        if not self.path.exists():
            raise DataError(f"{self.path}: no such file or folder")
        kind = self.detected_format()
        if kind == "images":
            return ImageFolder(self.path, features)
        if self.path.is_dir():
            raise DataError(f"{self.path}: is a folder; --data-format {kind} needs a file")
        if kind == "csv":
            return read_csv(self.path, features, self.features, self.label_column)
        return load_npz(self.path, features)


def read_csv(
    path: Path,
    features: Sequence[FeatureSpec],
    columns: Sequence[str] = (),
    label_column: str | None = None,
) -> dict[str, Array]:
    """A CSV with a header: the feature columns fill the model's one input, the label column its target.

    A model with several inputs takes one column per input, named like the input. The target is
    optional, so the same reader serves prediction.
    """
    header, rows = _rows(path)
    inputs = [f for f in features if f.role == "input"]
    targets = [f for f in features if f.role == "target"]
    label = _label_column(path, header, targets, label_column)
    arrays: dict[str, Array] = {}
    if label is not None and targets:
        arrays[targets[0].name] = _label_values(path, header, rows, label, targets[0])
    if len(inputs) > 1:
        for feature in inputs:
            arrays[feature.name] = _numbers(path, header, rows, [_column(path, header, feature.name)])
        return arrays
    chosen = _feature_columns(path, header, columns, exclude=label)
    if inputs:
        values = _numbers(path, header, rows, chosen)
        shape = [dim for dim in inputs[0].example_shape if dim is not None]
        if len(shape) == len(inputs[0].example_shape) > 1 and math.prod(shape) == values.shape[1]:
            values = values.reshape((len(values), *shape))
        arrays[inputs[0].name] = values
    return arrays


def _rows(path: Path) -> tuple[list[str], list[list[str]]]:
    # A CSV is held as text and then as rows of strings, many times its size: a sixteenth of the
    # .npz budget keeps that within it.
    size, limit = regular_data_file(path, "a CSV file"), budget_bytes() // 16
    if size > limit:
        raise DataError(
            f"{path}: {size:,} bytes; mlspec reads a CSV whole and at most {limit:,} bytes of it; "
            "convert larger data to an .npz archive"
        )
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: not a readable UTF-8 CSV file ({exc})") from exc
    try:
        table = [row for row in csv.reader(io.StringIO(text)) if row]
    except csv.Error as exc:
        raise DataError(f"{path}: not a valid CSV file ({exc})") from exc
    if len(table) < 2:
        raise DataError(f"{path}: a CSV needs a header line and at least one row of data")
    header = [name.strip() for name in table[0]]
    for line, row in enumerate(table[1:], start=2):
        if len(row) != len(header):
            raise DataError(f"{path}: line {line} has {len(row)} fields, the header has {len(header)}")
    return header, table[1:]


def _label_column(
    path: Path, header: list[str], targets: Sequence[FeatureSpec], given: str | None
) -> str | None:
    if given is not None:
        _column(path, header, given, option="--label-column")
        return given
    names = list(dict.fromkeys([*(t.name for t in targets), "label"]))
    for name in names:
        if name in header:
            return name
    if targets:
        raise DataError(
            f"{path}: no label column; name it {' or '.join(repr(n) for n in names)}, or pass "
            f"--label-column (columns: {_shown(header)})"
        )
    return None


def _feature_columns(path: Path, header: list[str], given: Sequence[str], exclude: str | None) -> list[int]:
    if not given:
        chosen = [i for i, name in enumerate(header) if name != exclude]
    else:
        chosen = []
        for pattern in given:
            if pattern.endswith("*"):
                matches = [i for i, name in enumerate(header) if name.startswith(pattern[:-1])]
                if not matches:
                    raise DataError(
                        f"{path}: no column starts with {pattern[:-1]!r} (--features); "
                        f"columns: {_shown(header)}"
                    )
                chosen.extend(matches)
            else:
                chosen.append(_column(path, header, pattern, option="--features"))
    if not chosen:
        raise DataError(f"{path}: no feature columns besides the label column {exclude!r}")
    return chosen


def _column(path: Path, header: list[str], name: str, option: str = "column") -> int:
    if name not in header:
        raise DataError(f"{path}: no column {name!r} ({option}); columns: {_shown(header)}")
    return header.index(name)


def _numbers(path: Path, header: list[str], rows: list[list[str]], columns: list[int]) -> Array:
    values = np.empty((len(rows), len(columns)), dtype=np.float64)
    for line, row in enumerate(rows, start=2):
        for position, column in enumerate(columns):
            try:
                values[line - 2, position] = float(row[column])
            except ValueError:
                raise DataError(
                    f"{path}: line {line}, column {header[column]!r}: {row[column]!r} is not a number"
                ) from None
    return values


def _label_values(
    path: Path, header: list[str], rows: list[list[str]], name: str, target: FeatureSpec
) -> Array:
    column = header.index(name)
    cells = [row[column].strip() for row in rows]
    textual = target.is_class_label and target.labels is not None and isinstance(target.labels[0], str)
    if textual:
        return np.array(cells, dtype=str)
    if not target.is_class_label:
        return _numbers(path, header, rows, [column])[:, 0]
    values = np.empty(len(cells), dtype=np.int64)
    for line, cell in enumerate(cells, start=2):
        try:
            values[line - 2] = int(cell)
        except ValueError:
            raise DataError(
                f"{path}: line {line}, column {name!r}: {cell!r} is not a whole number; "
                "this model's class labels are integers"
            ) from None
    return values


def _shown(header: list[str], limit: int = 8) -> str:
    more = f", ... ({len(header)} in all)" if len(header) > limit else ""
    return ", ".join(header[:limit]) + more
