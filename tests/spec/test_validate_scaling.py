"""Validation time is linear in the number of layers (issue 16: a 10k-layer chain did not finish
validating in 300 s; the gradient-path rule searched forward from every updatable layer, so 1,000
updatable dense layers took 86 s). tools/bench/scaling.py measures it up to 100k layers."""

from __future__ import annotations

import time

from mlspec.spec.validate import find_problems
from tests.support.chains import updatable_dense_chain


def _seconds(layers: int) -> float:
    model = updatable_dense_chain(layers)
    started = time.perf_counter()
    problems = find_problems(model)
    elapsed = time.perf_counter() - started
    assert problems == []  # a valid spec: every rule ran to the end
    return elapsed


def test_validate_time_is_linear_in_layers() -> None:
    _seconds(200)  # warm-up
    small = _seconds(5_000)
    large = _seconds(20_000)
    assert large / small < 10, (small, large)  # linear is 4x; quadratic 16x


def test_an_updatable_layer_cut_off_from_the_loss_is_still_named_past_the_search_budget() -> None:
    """Blocker searches are capped (20) so that many cut-off layers stay linear; every one is
    still reported, the first ones naming the blocker."""
    model = updatable_dense_chain(30)
    for index in range(1, 26):  # 25 dense layers, each reading x, whose outputs nothing reads
        model.network.layers[index].inputs[0] = "x"
    texts = [str(p) for p in find_problems(model)]
    cut_off = [t for t in texts if "is updatable, but no loss depends on its output" in t]
    assert len(cut_off) == 25, texts
