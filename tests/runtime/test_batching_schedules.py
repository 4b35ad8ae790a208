"""Batch order and learning-rate schedules are pure functions, checked against direct formulas."""

from __future__ import annotations

import math

import numpy as np

from mlspec.runtime.batching import batches_per_epoch, epoch_batches, epoch_order
from mlspec.runtime.schedules import Schedule, schedule_from_dict


def _concat(count: int, batch: int, order: np.ndarray | None) -> list[int]:
    indices = np.arange(count)
    return [int(i) for selection in epoch_batches(count, batch, order) for i in indices[selection]]


def test_unshuffled_epoch_keeps_order_and_trains_the_remainder_as_a_smaller_batch() -> None:
    selections = list(epoch_batches(10, 4, epoch_order(10, epoch=0, seed=3, shuffle=False)))
    sizes = [len(np.arange(10)[s]) for s in selections]
    assert sizes == [4, 4, 2]
    assert batches_per_epoch(10, 4) == 3
    assert _concat(10, 4, None) == list(range(10))


def test_shuffled_epoch_is_a_permutation_depending_on_seed_and_epoch_only() -> None:
    first = epoch_order(50, epoch=2, seed=7, shuffle=True)
    assert first is not None
    assert sorted(first.tolist()) == list(range(50))
    same, next_epoch, other_seed = (
        epoch_order(50, epoch=e, seed=s, shuffle=True) for e, s in ((2, 7), (3, 7), (2, 8))
    )
    assert same is not None and next_epoch is not None and other_seed is not None
    np.testing.assert_array_equal(first, same)
    assert not np.array_equal(first, next_epoch)
    assert not np.array_equal(first, other_seed)
    assert sorted(_concat(50, 8, first)) == list(range(50))


def test_step_schedule_multiplies_by_gamma_every_step_epochs() -> None:
    schedule = Schedule("step", step_epochs=2, gamma=0.5)
    rates = [schedule.rate(0.8, epoch=e, step=0, epochs=6) for e in range(6)]
    assert rates == [0.8, 0.8, 0.4, 0.4, 0.2, 0.2]


def test_cosine_schedule_goes_from_base_towards_min_per_epoch() -> None:
    schedule = Schedule("cosine", min_lr=0.1)
    for epoch in range(4):
        expected = 0.1 + (1.0 - 0.1) * (1 + math.cos(math.pi * epoch / 4)) / 2
        assert math.isclose(schedule.rate(1.0, epoch=epoch, step=99, epochs=4), expected)
    assert schedule.rate(1.0, epoch=0, step=0, epochs=4) == 1.0


def test_linear_warmup_ramps_over_steps_then_holds() -> None:
    schedule = Schedule("linear_warmup", warmup_steps=4, start_factor=0.2)
    rates = [schedule.rate(1.0, epoch=0, step=s, epochs=1) for s in range(6)]
    np.testing.assert_allclose(rates, [0.2, 0.4, 0.6, 0.8, 1.0, 1.0])


def test_manifest_schedule_entries_are_read_and_none_is_constant() -> None:
    entry = {"kind": "step", "step_epochs": 3, "gamma": 0.1}
    assert schedule_from_dict(entry) == Schedule("step", step_epochs=3, gamma=0.1)
    assert schedule_from_dict(None).rate(0.3, epoch=9, step=9, epochs=10) == 0.3
