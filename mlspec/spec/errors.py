"""Error types shared by every layer of mlspec.

All user-facing failures derive from MlspecError so that the CLI can turn any of them into one
line without a traceback, while programming errors (bugs) still surface as tracebacks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeVar

from mlspec.spec.text import shown


def layer_ref(name: str, index: int | None = None) -> str:
    """How every message names a layer: `layers["fc1"]`, or `layers[3]` for an unnamed layer.

    The name comes from a file anyone may have written, so it is quoted through `shown` (escaped
    and cut to a readable length), never raw.
    """
    return f'layers["{shown(name)}"]' if name or index is None else f"layers[{index}]"


def loss_ref(name: str, index: int | None = None) -> str:
    """How every message names a loss: `update_parameters.loss_layers["ce"]`, or `[0]` when unnamed;
    the name quoted through `shown` like a layer's."""
    base = "update_parameters.loss_layers"
    return f'{base}["{shown(name)}"]' if name or index is None else f"{base}[{index}]"


def _spell(where: str, message: str, fix: str) -> str:
    text = f"{where}: {message}" if where else message
    return f"{text}. Fix: {fix}" if fix else text


class MlspecError(Exception):
    """A failure caused by user input: a bad file, spec, value or request.

    Like Problem it may carry `where` (file, layer or field) and `fix`; the text is spelled the same
    way, so the CLI's one line reads alike whether it came from validation or from an edit.
    """

    def __init__(self, message: str = "", *, where: str = "", fix: str = "") -> None:
        super().__init__(_spell(where, message, fix))
        self.where = where
        self.message = message
        self.fix = fix


_Error = TypeVar("_Error", bound=MlspecError)


class ShapeError(Exception):
    """One misfit in one layer; `field` is appended to the layer's location, e.g. ".kernel_shape"."""

    def __init__(self, message: str, fix: str = "", field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.field = field

    def at(self, where: str, kind: type[_Error] = MlspecError) -> _Error:  # type: ignore[assignment]
        """The same finding as a user-facing error (`kind`), for code that runs without validation."""
        return kind(self.message, where=f"{where}{self.field}", fix=self.fix)


class SpecLoadError(MlspecError):
    """A spec file could not be read or decoded."""


class SpecEditError(MlspecError):
    """A builder edit was refused; the spec was left unchanged."""


@dataclass(frozen=True)
class Problem:
    """One validation finding: where it is, what is wrong, and how to fix it."""

    where: str
    message: str
    fix: str = ""

    def __str__(self) -> str:
        return _spell(self.where, self.message, self.fix)


class ValidationError(MlspecError):
    """A spec broke one or more rules; every problem found is listed, not just the first."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"spec has {count} problem{'s' if count != 1 else ''}:\n{lines}")
