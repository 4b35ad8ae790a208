"""The catalogue of layer kinds, gathered from the family modules that declare them.

A family module (dense, conv, norm, ...) declares each of its kinds once, as a module-level
`KindInfo`; this package collects every declaration, in the order of `Layer.kind` in
layers.proto. Adding a kind to a family is therefore one declaration in one file, and
tests/test_kind_tables.py checks that the catalogue and the proto list the same kinds.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import ModuleType
from typing import TypeVar

from mlspec.spec.kind_names import PROTO_KINDS
from mlspec.spec.layer_kinds import (
    activation,
    conv,
    dense,
    elementwise,
    norm,
    onnx_node,
    pooling,
    shape_ops,
)
from mlspec.spec.layer_kinds.base import KindInfo

FAMILIES: tuple[ModuleType, ...] = (activation, conv, dense, elementwise, norm, onnx_node, pooling, shape_ops)


def gather(families: tuple[ModuleType, ...]) -> dict[str, KindInfo]:
    """Every KindInfo the families declare, keyed by name in proto order; a name declared twice
    or naming no `Layer.kind` member is refused here, at import, with the module at fault."""
    found: dict[str, tuple[KindInfo, str]] = {}
    for module in families:
        for value in vars(module).values():
            if not isinstance(value, KindInfo):
                continue
            if value.name in found:
                raise TypeError(
                    f"layer kind {value.name} is declared in {found[value.name][1]} and {module.__name__}"
                )
            if value.name not in PROTO_KINDS:
                raise TypeError(f"{module.__name__} declares {value.name}, not a member of Layer.kind")
            found[value.name] = (value, module.__name__)
    return {name: found[name][0] for name in PROTO_KINDS if name in found}


KINDS: dict[str, KindInfo] = gather(FAMILIES)

T = TypeVar("T")


def by_kind(registry: str, *families: Mapping[str, T]) -> dict[str, T]:
    """One registry (reference functions, emitters) from the tables its family modules keep
    beside their code, in proto order. A kind registered twice, or naming no `Layer.kind`
    member, is refused at import with the registry's name; a kind left out is found by
    tests/test_kind_tables.py."""
    merged: dict[str, T] = {}
    for family in families:
        for kind, value in family.items():
            if kind in merged:
                raise TypeError(f"{registry}: layer kind {kind} is registered twice")
            if kind not in PROTO_KINDS:
                raise TypeError(f"{registry}: {kind} is not a member of Layer.kind")
            merged[kind] = value
    return {kind: merged[kind] for kind in PROTO_KINDS if kind in merged}


__all__ = ["FAMILIES", "KINDS", "PROTO_KINDS", "KindInfo", "by_kind", "gather"]
