"""The builder: create specs, make them updatable, and operate on them.

``NetworkBuilder`` is the one entry point for new and existing specs; optimizer settings are
parameter objects (``SgdParams``, ``AdamParams``, ``AdamWParams``); ``inspect_model`` returns a
JSON-serialisable summary. Every builder edit is all or nothing (see ``mlspec.builder.base``).

The names below are imported on first use (PEP 562), so a command that needs one of them, such
as `mlspec inspect` needing ``inspect_model``, does not load the whole builder at start-up.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlspec.builder.initializers import INIT_NAMES, Initializer, constant, normal
    from mlspec.builder.inspect import fp16_layers, inspect_model
    from mlspec.builder.network import MODES, NetworkBuilder
    from mlspec.builder.params import AdamParams, AdamWParams, SgdParams
    from mlspec.builder.updatable import LOSS_KINDS

_HOMES = {
    "INIT_NAMES": "initializers",
    "Initializer": "initializers",
    "constant": "initializers",
    "normal": "initializers",
    "fp16_layers": "inspect",
    "inspect_model": "inspect",
    "MODES": "network",
    "NetworkBuilder": "network",
    "AdamParams": "params",
    "AdamWParams": "params",
    "SgdParams": "params",
    "LOSS_KINDS": "updatable",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"mlspec.builder.{home}"), name)


__all__ = [
    "INIT_NAMES",
    "LOSS_KINDS",
    "MODES",
    "AdamParams",
    "AdamWParams",
    "Initializer",
    "NetworkBuilder",
    "SgdParams",
    "constant",
    "fp16_layers",
    "inspect_model",
    "normal",
]
