"""Error types shared by every layer of mlspec.

All user-facing failures derive from MlspecError so that the CLI can turn any of them into one
line without a traceback, while programming errors (bugs) still surface as tracebacks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


class MlspecError(Exception):
    """A failure caused by user input: a bad file, spec, value or request."""


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
        text = f"{self.where}: {self.message}"
        return f"{text}. Fix: {self.fix}" if self.fix else text


class ValidationError(MlspecError):
    """A spec broke one or more rules; every problem found is listed, not just the first."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems = list(problems)
        count = len(self.problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        super().__init__(f"spec has {count} problem{'s' if count != 1 else ''}:\n{lines}")
