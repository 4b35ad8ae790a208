"""The one error every data reader and check raises, in a module of its own so readers and checks
can both import it without importing each other."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from mlspec.spec.errors import MlspecError


class DataError(MlspecError):
    """Training, validation or prediction data does not fit what the model expects."""


def missing_keys_error(
    where: str, missing: Sequence[str], expected: Sequence[str], got: Iterable[str]
) -> DataError:
    """The error for data lacking arrays the model needs, naming what it needs and what it has."""
    return DataError(
        f"{where}: missing {', '.join(repr(m) for m in missing)}; expected keys: {', '.join(expected)} "
        f"(got: {', '.join(sorted(got)) or 'none'})"
    )
