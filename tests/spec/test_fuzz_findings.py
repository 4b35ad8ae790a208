"""Specs the fuzzers found that ended in "internal error" instead of mlspec's own (issue 16)."""

from __future__ import annotations

from mlspec._proto import model_pb2
from mlspec.spec.validate import find_problems
from tests.support.specs import dense


def _weights_with_shape(shape: list[int]) -> model_pb2.Model:
    model = model_pb2.Model(spec_version=1)
    model.network.layers.append(dense("fc", "x", "y", 4, 5))
    weights = model.network.layers[0].inner_product.weights
    del weights.shape[:]
    weights.shape.extend(shape)
    return model


def test_a_shape_whose_product_has_more_than_4300_digits_is_a_problem_not_a_crash() -> None:
    problems = [str(p) for p in find_problems(_weights_with_shape([2**62] * 300))]
    assert 'layers["fc"].weights: shape of 300 dimensions holds more than 1099511627776 elements' in " ".join(
        problems
    )


def test_dims_whose_product_wraps_in_int64_are_a_problem() -> None:
    """np.prod wrapped [2^32, 2^32] to 0; the budget refuses it before any product is used."""
    problems = [str(p) for p in find_problems(_weights_with_shape([2**32, 2**32]))]
    assert any("holds more than 1099511627776 elements, the limit" in p for p in problems), problems
