"""Arguments shared by several commands, and the checks every command makes on its output path.

Lists and ranges are parsed while click reads the command line, so a malformed value is a usage
error (exit 2) before any file is touched; the output path is checked before any work, so a long
job never ends with "cannot write there".
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mlspec.spec.errors import MlspecError

if TYPE_CHECKING:
    from mlspec.runtime.data_files import DataFile

ModelArg = Annotated[Path, typer.Argument(help="Spec file (.mlspec or .pbtxt).", show_default=False)]


class Backend(str, Enum):
    """The names in mlspec.backends.CHOICES (kept literal here so --help loads no backend code)."""

    auto = "auto"
    portable = "portable"
    ort_training = "ort-training"


def note_large_graph(layers: int, backend: Backend | None) -> None:
    """Tell, on stderr, who asked for ort-training on a graph it converts in quadratic time."""
    from mlspec.backends import large_graph_note  # here: --help loads no backend code

    note = large_graph_note(layers, backend.value if backend is not None else None)
    if note is not None:
        typer.echo(note, err=True)


BackendOpt = Annotated[
    Backend | None,
    typer.Option(
        "--backend",
        help="Training backend: portable (standard ONNX ops, any ONNX Runtime), ort-training "
        "(onnxruntime-training), or auto (portable when it covers the model, else ort-training). "
        "Default: ort-training where onnxruntime-training is installed and the spec has at most "
        "2,000 layers, else auto.",
        show_default=False,
    ),
]
OutputSpecOpt = Annotated[
    Path, typer.Option("--output", "-o", help="Where to write the new spec (.mlspec or .pbtxt).")
]
InPlaceOpt = Annotated[
    bool, typer.Option("--in-place", help="Allow -o to be the input spec and overwrite it (atomically).")
]
SeedOpt = Annotated[int | None, typer.Option("--seed", help="Seed for drawing new weights.", min=0)]


@dataclass(frozen=True)
class Names:
    """A comma-separated list of names, such as --layers fc1,fc2."""

    items: list[str]

    @classmethod
    def parse(cls, text: str) -> Names:
        items = [item.strip() for item in text.split(",")]
        if not text.strip() or any(not item for item in items):
            raise typer.BadParameter(f"{text!r} is not a comma-separated list such as a,b,c")
        return cls(items)


@dataclass(frozen=True)
class Ints:
    """A comma-separated set of whole numbers, such as --batch-sizes 1,2,8,16."""

    values: list[int]

    @classmethod
    def parse(cls, text: str) -> Ints:
        try:
            return cls([int(item) for item in Names.parse(text).items])
        except ValueError:
            raise typer.BadParameter(
                f"{text!r} is not a comma-separated list of whole numbers such as 1,2,8"
            ) from None


@dataclass(frozen=True)
class Range:
    """A closed range LO:HI, such as --lr-range 0.001:0.1."""

    low: float
    high: float

    @classmethod
    def parse(cls, text: str) -> Range:
        low, sep, high = text.partition(":")
        try:
            bounds = cls(float(low), float(high)) if sep else None
        except ValueError:
            bounds = None
        if bounds is None or bounds.low > bounds.high:
            raise typer.BadParameter(f"{text!r} is not a range LO:HI with LO <= HI, such as 0.001:0.1")
        return bounds

    def as_tuple(self) -> tuple[float, float]:
        return (self.low, self.high)

    def as_int_tuple(self, option: str) -> tuple[int, int]:
        if not (self.low.is_integer() and self.high.is_integer()):
            raise typer.BadParameter(f"{option} needs whole numbers, such as 1:100")
        return int(self.low), int(self.high)


def same_file(first: Path, second: Path) -> bool:
    if first.exists() and second.exists():
        return os.path.samefile(first, second)
    return first.resolve() == second.resolve()


def check_output_file(
    output: Path, *, inputs: tuple[Path, ...] = (), in_place: bool | None = None, option: str = "-o"
) -> None:
    """Refuse, before any work, an output that would clobber an input or cannot be written.

    `in_place` is None for commands that never overwrite their input (train, export-onnx).
    """
    for source in inputs:
        if same_file(source, output) and not in_place:
            raise MlspecError(
                f"{output}: {option} names an input file; choose another output path"
                + (" or pass --in-place to overwrite it" if in_place is not None else "")
            )
    if output.is_dir():
        raise MlspecError(f"{output}: is a directory; give a file path for {option}")
    if not output.parent.is_dir():
        raise MlspecError(f"{output}: folder {output.parent} does not exist; create it first")


# Optimizer and run settings shared by make-updatable (where they set the spec's defaults) and
# train (where they override them for one run).
MomentumOpt = Annotated[float | None, typer.Option("--momentum", help="SGD momentum.")]
NesterovOpt = Annotated[bool | None, typer.Option("--nesterov/--no-nesterov", help="SGD Nesterov momentum.")]
Beta1Opt = Annotated[float | None, typer.Option("--beta1", help="Adam beta1.")]
Beta2Opt = Annotated[float | None, typer.Option("--beta2", help="Adam beta2.")]
EpsOpt = Annotated[float | None, typer.Option("--eps", help="Adam epsilon.")]
WeightDecayOpt = Annotated[float | None, typer.Option("--weight-decay", help="Weight decay.")]
ClipNormOpt = Annotated[float | None, typer.Option("--clip-norm", help="Clip gradients to this global norm.")]
ClipValueOpt = Annotated[float | None, typer.Option("--clip-value", help="Clip each gradient to +-value.")]
ShuffleOpt = Annotated[bool | None, typer.Option("--shuffle/--no-shuffle", help="Shuffle every epoch.")]

# Data options shared by train, evaluate and predict: how to read --data and --val.
DataFormatOpt = Annotated[
    str | None,
    typer.Option(
        "--data-format",
        help="npz, csv or images (a folder with one subfolder per class); detected when omitted.",
    ),
]
FeaturesOpt = Annotated[
    Names | None,
    typer.Option(
        "--features",
        parser=Names.parse,
        help="CSV feature columns: names, or prefixes ending in * (pixel*); default: all but the label.",
    ),
]
LabelColumnOpt = Annotated[
    str | None, typer.Option("--label-column", help="CSV column holding the label (default: label).")
]


def data_file(
    path: Path, data_format: str | None, features: Names | None, label_column: str | None
) -> DataFile:
    """The CLI's data options as the runtime's `DataFile` (imported here: the runtime loads ORT)."""
    from mlspec.runtime.data_files import DataFile

    return DataFile.checked(
        path,
        data_format,
        features=tuple(features.items) if features else (),
        label_column=label_column,
    )
