"""The one error every data reader and check raises, in a module of its own so readers and checks
can both import it without importing each other."""

from __future__ import annotations

from mlspec.spec.errors import MlspecError


class DataError(MlspecError):
    """Training, validation or prediction data does not fit what the model expects."""
