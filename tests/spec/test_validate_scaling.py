"""Validation time is linear in the number of layers (issue 16: a 10k-layer chain did not finish
validating in 300 s; the gradient-path rule searched forward from every updatable layer, so 1,000
updatable dense layers took 86 s). tools/bench/scaling.py measures it up to 100k layers."""

from __future__ import annotations

import time

from mlspec._proto import model_pb2
from mlspec.builder import SgdParams
from mlspec.spec.validate import find_problems


def _updatable_dense_chain(layers: int) -> model_pb2.Model:
    """x [2] -> `layers` updatable 2x2 dense layers in a chain -> MSE on the last."""
    model = model_pb2.Model(spec_version=1, is_updatable=True)
    feature = model.description.inputs.add(name="x")
    feature.type.tensor.dtype = 1  # type: ignore[assignment]
    feature.type.tensor.shape.add(symbol="batch")
    feature.type.tensor.shape.add(size=2)
    for index in range(layers):
        source = "x" if index == 0 else f"l{index - 1}"
        layer = model.network.layers.add(name=f"l{index}", inputs=[source], outputs=[f"l{index}"])
        dense = layer.inner_product
        dense.input_channels = dense.output_channels = 2
        dense.weights.dtype = 1  # type: ignore[assignment]
        dense.weights.shape.extend([2, 2])
        dense.weights.raw_data = bytes(16)
        layer.is_updatable = dense.weights.is_updatable = True
    model.description.outputs.add(name=f"l{layers - 1}").type.CopyFrom(feature.type)
    model.description.training_inputs.add(name="x").type.CopyFrom(feature.type)
    model.description.training_inputs.add(name="y").type.CopyFrom(feature.type)
    loss = model.update_parameters.loss_layers.add(name="loss", input=f"l{layers - 1}", target="y")
    loss.mean_squared_error.SetInParent()
    model.update_parameters.optimizer.CopyFrom(SgdParams(lr=0.1, batch=2).to_proto())
    model.update_parameters.epochs.default_value = 1
    model.update_parameters.epochs.set.values.append(1)
    return model


def _seconds(layers: int) -> float:
    model = _updatable_dense_chain(layers)
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
    model = _updatable_dense_chain(30)
    for index in range(1, 26):  # 25 dense layers, each reading x, whose outputs nothing reads
        model.network.layers[index].inputs[0] = "x"
    texts = [str(p) for p in find_problems(model)]
    cut_off = [t for t in texts if "is updatable, but no loss depends on its output" in t]
    assert len(cut_off) == 25, texts
