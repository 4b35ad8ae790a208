"""mlspec: declarative specs for models that keep learning after deployment.

The protobuf `Model` message is the single source of truth; this package gives the functions
people reach for first. Heavier parts (builder, converter, runtime) live in their subpackages.

The names below are loaded on first use (PEP 562), not when the package is imported: every
`mlspec` command imports this package first, and `mlspec --help` should not pay for the
validator it never runs.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlspec._proto.model_pb2 import Model
    from mlspec.spec.errors import MlspecError, Problem, SpecLoadError, ValidationError
    from mlspec.spec.io import SPEC_VERSION, load, save
    from mlspec.spec.validate import find_problems, validate

_HOMES = {
    "Model": "mlspec._proto.model_pb2",
    "MlspecError": "mlspec.spec.errors",
    "Problem": "mlspec.spec.errors",
    "SpecLoadError": "mlspec.spec.errors",
    "ValidationError": "mlspec.spec.errors",
    "SPEC_VERSION": "mlspec.spec.io",
    "load": "mlspec.spec.io",
    "save": "mlspec.spec.io",
    "find_problems": "mlspec.spec.validate",
    "validate": "mlspec.spec.validate",
}

__all__ = [
    "SPEC_VERSION",
    "MlspecError",
    "Model",
    "Problem",
    "SpecLoadError",
    "ValidationError",
    "find_problems",
    "load",
    "save",
    "validate",
]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'mlspec' has no attribute {name!r}")
    value = getattr(import_module(home), name)
    globals()[name] = value  # later lookups skip this function
    return value
