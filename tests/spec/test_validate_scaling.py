"""Validation time is linear in the number of layers (issue 16: a 10k-layer chain did not finish
validating in 300 s; the gradient-path rule searched forward from every updatable layer, so 1,000
updatable dense layers took 86 s). tools/bench/scaling.py measures it up to 100k layers."""

from __future__ import annotations

import time

from mlspec._proto import model_pb2
from mlspec.spec.validate import find_problems
from tests.support.chains import updatable_chain


def _seconds(layers: int) -> float:
    """The faster of two runs: on a shared machine one run can lose seconds to other work."""
    model = updatable_chain(layers)
    timings = []
    for _ in range(2):
        started = time.perf_counter()
        problems = find_problems(model)
        timings.append(time.perf_counter() - started)
        assert problems == []  # a valid spec: every rule ran to the end
    return min(timings)


def test_validate_time_is_linear_in_layers() -> None:
    _seconds(200)  # warm-up
    small = _seconds(5_000)
    large = _seconds(20_000)
    assert large / small < 10, (small, large)  # linear is 4x; quadratic 16x


def _blocked_chain(layers: int) -> model_pb2.Model:
    """The dense chain with a Round node (no backend has its gradient) before the loss."""
    model = updatable_chain(layers)
    model.network.layers[-1].outputs[0] = "h"
    node = model.network.layers.add(name="frozen", inputs=["h"], outputs=[f"l{layers - 1}"]).onnx_node
    node.op_type = "Round"  # no backend has its gradient
    node.node_inputs.append("h")
    return model


def test_every_cut_off_layer_names_its_blocker_in_linear_time() -> None:
    """Each cut-off layer once got its own forward search (quadratic), then only the first 20 did
    and the rest were reported without the blocker; one backward pass now names it for all."""
    timings = []
    for layers in (2_000, 8_000):
        model = _blocked_chain(layers)
        started = time.perf_counter()
        problems = find_problems(model)
        timings.append(time.perf_counter() - started)
        assert len(problems) == layers, problems[:3]
        for problem in problems:
            assert 'blocked by layers["frozen"] (onnx_node Round), which passes no gradient' in str(problem)
    assert timings[1] / timings[0] < 10, timings  # linear is 4x; quadratic 16x


def test_a_layer_behind_many_blockers_names_the_first_eight_and_says_there_are_others() -> None:
    model = updatable_chain(3)
    model.network.layers[-1].outputs[0] = "h"  # l2 now only feeds ten blocking nodes and an Add
    parts = []
    for index in range(10):
        node = model.network.layers.add(name=f"frozen{index}", inputs=["h"], outputs=[f"p{index}"]).onnx_node
        node.op_type = "Round"  # no backend has its gradient
        node.node_inputs.append("h")
        parts.append(f"p{index}")
    model.network.layers.add(name="sum", inputs=parts, outputs=["l2"]).add.SetInParent()
    texts = [str(p) for p in find_problems(model)]
    named = [f'layers["frozen{i}"] (onnx_node Round)' for i in range(8)]
    assert any(", ".join(named) + " and others, which passes no gradient" in t for t in texts), texts
    assert not any("frozen8" in t for t in texts), texts


def test_an_updatable_layer_cut_off_from_the_loss_is_still_named_past_the_search_budget() -> None:
    """25 cut-off layers whose outputs nothing reads: each is reported (the blocker searches were
    capped at 20; past them layers were reported differently)."""
    model = updatable_chain(30)
    for index in range(1, 26):  # 25 dense layers, each reading x, whose outputs nothing reads
        model.network.layers[index].inputs[0] = "x"
    texts = [str(p) for p in find_problems(model)]
    cut_off = [t for t in texts if "is updatable, but no loss depends on its output" in t]
    assert len(cut_off) == 25, texts
