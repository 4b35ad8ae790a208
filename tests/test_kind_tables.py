"""Every table keyed by layer kind covers the catalogue, mlspec.spec.kinds.KINDS, exactly.

A kind missing from one table used to fail late (a KeyError inside validation) or silently (weight
shapes left unchecked). This one parametrized check names the table and the kinds it lacks, and
the last test shows that it does fail when a kind is taken out of a table.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import pytest

from mlspec._proto import layers_pb2
from mlspec.builder import NetworkBuilder
from mlspec.convert.emitters import EMITTERS
from mlspec.convert.exporters.coreml_layers import WRITERS
from mlspec.reference.evaluate import LAYER_FUNCTIONS
from mlspec.spec import layer_kinds
from mlspec.spec.kinds import KINDS
from mlspec.spec.layer_kinds import PROTO_KINDS, KindInfo, by_kind
from mlspec.spec.tensor_info import TensorInfo


def _builder_adders() -> Collection[str]:
    return {kind for kind in KINDS if hasattr(NetworkBuilder, f"add_{kind}")}


# Table name -> how to read the kinds it covers now (read at check time, so a patched table counts).
TABLES: dict[str, Callable[[], Collection[str]]] = {
    "builder NetworkBuilder.add_<kind>": _builder_adders,
    "reference/evaluate.py LAYER_FUNCTIONS": lambda: LAYER_FUNCTIONS,
    "convert/emitters EMITTERS": lambda: EMITTERS,
    "convert/exporters/coreml_layers.py WRITERS": lambda: WRITERS,
}


def check_catalogue(declared: Collection[str]) -> None:
    """The catalogue declares exactly the members of Layer.kind in layers.proto."""
    missing = sorted(set(PROTO_KINDS) - set(declared))
    assert not missing, f"spec/layer_kinds: Layer.kind members without a KindInfo declaration {missing}"


def test_catalogue_covers_the_proto() -> None:
    check_catalogue(KINDS)
    assert list(KINDS) == [kind for kind in PROTO_KINDS if kind in KINDS]  # proto order


def test_catalogue_check_fails_when_a_declaration_is_left_out() -> None:
    families = tuple(f for f in layer_kinds.FAMILIES if f.__name__ != "mlspec.spec.layer_kinds.dense")
    missing = r"without a KindInfo declaration \['embedding', 'inner_product'\]"
    with pytest.raises(AssertionError, match=missing):
        check_catalogue(layer_kinds.gather(families))


def _rule(layer: layers_pb2.Layer, inputs: list[TensorInfo]) -> list[TensorInfo]:
    return []


def test_a_kind_with_tensors_must_declare_their_shapes() -> None:
    """Weight-shape checks cannot be skipped by leaving `weights` out of a declaration."""
    with pytest.raises(TypeError, match="layer kind group_norm: holds tensors but declares no weights="):
        KindInfo(name="group_norm", shape=_rule, tensor_fields=("gamma", "beta"))


def test_a_registry_refuses_a_kind_registered_twice_or_unknown() -> None:
    with pytest.raises(TypeError, match="emitters: layer kind add is registered twice"):
        by_kind("emitters", {"add": 1}, {"add": 2})
    with pytest.raises(TypeError, match=r"emitters: group_norm is not a member of Layer\.kind"):
        by_kind("emitters", {"group_norm": 1})


def check_table(name: str) -> None:
    covered = set(TABLES[name]())
    missing = sorted(set(KINDS) - covered)
    unknown = sorted(covered - set(KINDS))
    assert not missing and not unknown, (
        f"{name}: missing kinds {missing}, kinds not in the catalogue {unknown}"
    )


@pytest.mark.parametrize("name", sorted(TABLES))
def test_table_covers_the_catalogue(name: str) -> None:
    check_table(name)


@pytest.mark.parametrize("name", sorted(TABLES))
def test_check_fails_when_a_kind_is_left_out(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Take `embedding` out of each table in turn: the completeness check must name it."""
    table = TABLES[name]()
    if isinstance(table, dict):
        monkeypatch.delitem(table, "embedding")
    else:
        owner = next(cls for cls in NetworkBuilder.__mro__ if "add_embedding" in vars(cls))
        monkeypatch.delattr(owner, "add_embedding")
    with pytest.raises(AssertionError, match=r"missing kinds \['embedding'\]"):
        check_table(name)
