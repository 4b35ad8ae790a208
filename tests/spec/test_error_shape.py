"""Errors have one shape: MlspecError carries where and fix like Problem, and layers are named one way."""

from __future__ import annotations

from mlspec.spec.errors import MlspecError, Problem, SpecEditError, layer_ref
from mlspec.spec.validate import find_problems
from tests.support.specs import classifier


def test_an_error_is_spelled_like_a_problem() -> None:
    error = SpecEditError("rate 2 must lie in [0, 1)", where='layers["drop"].rate', fix="use a smaller rate")
    problem = Problem('layers["drop"].rate', "rate 2 must lie in [0, 1)", "use a smaller rate")
    assert (
        str(error)
        == str(problem)
        == 'layers["drop"].rate: rate 2 must lie in [0, 1). Fix: use a smaller rate'
    )
    assert (error.where, error.message, error.fix) == (problem.where, problem.message, problem.fix)
    assert str(MlspecError("plain message")) == "plain message"


def test_layer_ref_names_unnamed_layers_by_position() -> None:
    assert layer_ref("fc1") == 'layers["fc1"]'
    assert layer_ref("fc1", 3) == 'layers["fc1"]'
    assert layer_ref("", 3) == "layers[3]"


def test_an_unnamed_layer_with_a_shape_problem_is_reported_by_position() -> None:
    """spec/shapes.py used to say layers[""] where every other rule says layers[<index>]."""
    model = classifier()
    layer = model.network.layers[0]
    layer.name = ""
    layer.inner_product.input_channels = 0
    wheres = [p.where for p in find_problems(model)]
    assert "layers[0].input_channels" in wheres
    assert not any(where.startswith('layers[""]') for where in wheres)


def test_layer_ref_escapes_and_cuts_a_name_from_a_file() -> None:
    """A layer name is user text: control characters are escaped and a huge name is cut."""
    assert layer_ref("a\x1b[2Jb") == 'layers["a\\x1b[2Jb"]'
    long = layer_ref("x" * 5000)
    assert long.startswith('layers["' + "x" * 80 + "...") and "(5000 characters)" in long
    assert len(long) < 120
