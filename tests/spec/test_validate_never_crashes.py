"""Validation must report, never crash: arbitrary specs (from the schema itself) yield Problems."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlspec._proto import layers_pb2, model_pb2
from mlspec.spec.errors import Problem
from mlspec.spec.text import shown
from mlspec.spec.validate import find_problems
from tests.support.specs import classifier

from .proto_strategies import filled

FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def assert_reports(model: model_pb2.Model) -> None:
    problems = find_problems(model)
    assert all(isinstance(p, Problem) and p.where and p.message for p in problems)
    for problem in problems:
        assert_names_a_real_layer(model, problem.where)


def assert_names_a_real_layer(model: model_pb2.Model, where: str) -> None:
    """A `layers[...]` location names a layer of this model: by its name, or by position if unnamed.

    Names are quoted as messages quote user text (escaped and cut by `shown`).
    """
    if not where.startswith("layers["):
        return
    layers = model.network.layers
    references = [
        f'layers["{shown(layer.name)}"]' if layer.name else f"layers[{i}]" for i, layer in enumerate(layers)
    ]
    assert any(where.startswith(reference) for reference in references), f"{where!r} names no layer"


@FUZZ
@given(filled(model_pb2.Model))
def test_arbitrary_models(model: model_pb2.Model) -> None:
    assert_reports(model)


@FUZZ
@given(st.lists(filled(layers_pb2.Layer), min_size=1, max_size=4), st.data())
def test_arbitrary_layers_wired_to_real_tensors(layers: list[layers_pb2.Layer], data: st.DataObject) -> None:
    """Random layers whose inputs name existing tensors, so the shape rules really run on them."""
    model = classifier()
    names = ["x", "h1", "a1", "logits", "probs"]
    for index, layer in enumerate(layers):
        layer.name = f"random{index}"
        del layer.inputs[:]
        layer.inputs.extend(data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=3)))
        names.extend(layer.outputs)
        model.network.layers.append(layer)
    assert_reports(model)
