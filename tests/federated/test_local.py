"""A client's round is plain mlspec training: exact, and bound by the spec's allowed values."""

from __future__ import annotations

import numpy as np
import pytest

from mlspec.federated.local import evaluate_global, exchanged_names, local_update, with_weights
from mlspec.runtime import HyperparameterError, Trainer
from tests.federated.models import digits, mlp


def test_exchanged_tensors_are_what_the_spec_trains() -> None:
    assert exchanged_names(mlp()) == ("hidden.bias", "hidden.weights", "out.bias", "out.weights")


def test_a_local_update_equals_training_the_spec_with_those_weights() -> None:
    spec, (train, _) = mlp(), digits()
    names = exchanged_names(spec)
    rng = np.random.default_rng(5)
    start = {
        name: rng.normal(0, 0.1, size=shape).astype(np.float32)
        for name, shape in _shapes(spec, names).items()
    }
    part = {key: value[:200] for key, value in train.items()}
    update = local_update(
        spec, names, [start[n] for n in names], part, {"server-round": 3, "learning_rate": 0.05}
    )
    with Trainer.from_spec(
        with_weights(spec, names, [start[n] for n in names]), learning_rate=0.05
    ) as trainer:
        trainer.train(part)
        expected = trainer.parameters()
    for name, value in zip(names, update.arrays, strict=True):
        np.testing.assert_array_equal(value, expected[name])
    assert update.examples == 200


def test_a_server_config_outside_the_allowed_values_is_refused_by_the_client() -> None:
    spec, (train, _) = mlp(), digits()
    names = exchanged_names(spec)
    arrays = [np.zeros(shape, np.float32) for shape in _shapes(spec, names).values()]
    with pytest.raises(HyperparameterError, match=r"learning_rate=0\.9 is outside the allowed range"):
        local_update(spec, names, arrays, train, {"learning_rate": 0.9})


def test_global_scoring_reports_loss_and_accuracy() -> None:
    spec, (_, test) = mlp(), digits()
    names = exchanged_names(spec)
    arrays = [np.zeros(shape, np.float32) for shape in _shapes(spec, names).values()]
    loss, accuracy = evaluate_global(spec, names, arrays, test)
    assert loss == pytest.approx(np.log(10), rel=1e-5)  # all-zero weights: uniform probabilities
    assert accuracy is not None and 0.0 <= accuracy <= 1.0


def _shapes(spec: object, names: tuple[str, ...]) -> dict[str, tuple[int, ...]]:
    sizes = {"hidden.weights": (32, 64), "hidden.bias": (32,), "out.weights": (10, 32), "out.bias": (10,)}
    return {name: sizes[name] for name in names}
