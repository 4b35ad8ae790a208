"""The builder: create specs, make them updatable, and operate on them.

``NetworkBuilder`` is the one entry point for new and existing specs; optimizer settings are
parameter objects (``SgdParams``, ``AdamParams``, ``AdamWParams``); ``inspect_model`` returns a
JSON-serialisable summary. Every builder edit is all or nothing (see ``mlspec.builder.base``).
"""

from mlspec.builder.initializers import INIT_NAMES, Initializer, constant, normal
from mlspec.builder.inspect import fp16_layers, inspect_model
from mlspec.builder.network import MODES, NetworkBuilder
from mlspec.builder.params import AdamParams, AdamWParams, SgdParams
from mlspec.builder.updatable import LOSS_KINDS

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
