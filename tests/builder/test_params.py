"""Optimizer parameter objects: Core ML's defaults, allowed values, and refusal at construction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from mlspec import MlspecError
from mlspec._proto import training_pb2
from mlspec.builder import AdamParams, AdamWParams, SgdParams
from mlspec.spec.hyper import violation


def _values(param: Any) -> tuple[Any, ...]:
    which = param.WhichOneof("allowed")
    allowed = getattr(param, which)
    values = [allowed.min, allowed.max] if which == "range" else list(allowed.values)
    return param.default_value, which, values


def test_sgd_defaults_match_core_ml() -> None:
    sgd = SgdParams(lr=0.001, batch=8).to_proto().sgd
    assert _values(sgd.learning_rate) == (pytest.approx(0.001), "range", [0.0, 1.0])
    assert _values(sgd.mini_batch_size) == (8, "set", [8])
    assert _values(sgd.momentum) == (0.0, "range", [0.0, 1.0])
    assert _values(sgd.weight_decay) == (0.0, "range", [0.0, 1.0])
    assert sgd.nesterov.default_value is False


def test_adam_defaults_and_the_documented_safe_ranges() -> None:
    adam = AdamParams(lr=0.001, batch=8, beta1=0.9, beta2=0.999, eps=1e-8).to_proto()
    assert adam.WhichOneof("kind") == "adam"
    assert _values(adam.adam.mini_batch_size) == (8, "set", [8])
    assert _values(adam.adam.beta1) == (pytest.approx(0.9), "range", [0.0, 0.99999])
    assert _values(adam.adam.beta2)[1:] == ("range", [0.0, 0.99999])
    assert _values(adam.adam.eps) == (pytest.approx(1e-8), "range", [1e-12, 1.0])
    adamw = AdamWParams().to_proto()
    assert adamw.WhichOneof("kind") == "adamw"
    assert adamw.adamw.weight_decay.default_value == pytest.approx(0.01)


def test_set_batch_with_a_set_and_lr_with_a_range() -> None:
    params = SgdParams(lr=0.001, batch=8, momentum=0)
    params.set_batch(8, [1, 2, 8, 16])
    params.set_lr(0.001, (1e-5, 0.1))
    params.set_momentum(0.9, {0.0, 0.5, 0.9})
    params.set_nesterov(True)
    sgd = params.to_proto().sgd
    assert _values(sgd.mini_batch_size) == (8, "set", [1, 2, 8, 16])
    assert _values(sgd.learning_rate) == (
        pytest.approx(0.001),
        "range",
        [pytest.approx(1e-5), pytest.approx(0.1)],
    )
    assert _values(sgd.momentum) == (pytest.approx(0.9), "set", [0.0, 0.5, pytest.approx(0.9)])
    assert sgd.nesterov.default_value is True


def test_default_outside_its_set_is_rejected_with_the_shared_wording() -> None:
    params = SgdParams(batch=8)
    with pytest.raises(MlspecError) as caught:
        params.set_batch(3, [1, 2, 8, 16])
    expected = violation("mini_batch_size", training_pb2.SgdOptimizer().mini_batch_size, 3)
    assert "mini_batch_size=3 is not in the allowed set {1, 2, 8, 16}" in str(caught.value)
    assert expected is not None and "SgdParams" in str(caught.value)
    # The failed call did not replace the earlier, valid setting.
    assert params.to_proto().sgd.mini_batch_size.default_value == 8


@pytest.mark.parametrize(
    ("make", "fragment"),
    [
        (lambda: SgdParams(lr=2.0), "learning_rate=2.0 is outside the allowed range [0.0, 1.0]"),
        (lambda: SgdParams(momentum=1.5), "momentum=1.5 is outside"),
        (lambda: SgdParams(batch=0), "must be > 0"),
        (lambda: AdamParams(beta1=1.0), "beta1=1.0 is outside the allowed range [0.0, 0.99999]"),
        (lambda: AdamParams(eps=0.0), "eps=0.0 is outside"),
        (lambda: AdamWParams(weight_decay=-0.1), "weight_decay=-0.1 is outside"),
    ],
)
def test_constructors_reject_bad_defaults(make: Callable[[], object], fragment: str) -> None:
    with pytest.raises(MlspecError, match=None) as caught:
        make()
    assert fragment in str(caught.value)


def test_range_that_allows_nonsense_is_refused_even_with_a_good_default() -> None:
    with pytest.raises(MlspecError) as caught:
        SgdParams().set_lr(0.01, (-1.0, 1.0))
    message = str(caught.value)
    assert "learning_rate" in message and ">= 0" in message and "-1" in message
