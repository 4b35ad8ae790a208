"""Three optimizer steps through the artifacts equal PyTorch's update rules written out in numpy.

The model is one dense layer under a mean-squared-error loss, whose gradient is known in closed
form, so the reference needs no autodiff: dL/dy = 2 (y - t) / (N * outputs).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest

from mlspec.backends import to_training_artifacts
from mlspec.backends.ort_training.ort import build_optimizer_model, ort_api
from mlspec.backends.ort_training.session import TrainingSession
from tests.support import optim_reference as ref
from tests.support.specs import SpecMaker, dense_mse

STEPS = 3
RNG = np.random.default_rng(3)
BATCHES = [
    (RNG.normal(size=(5, 4)).astype(np.float32), RNG.normal(size=(5, 3)).astype(np.float32))
    for _ in range(STEPS)
]
Arrays = dict[str, np.ndarray]


def _reference(
    start: Arrays, optimizer: Any, *, clip_norm: float | None = None, clip_value: float | None = None
) -> Arrays:
    params: Arrays = {name: value.astype(np.float64) for name, value in start.items()}
    for x, t in BATCHES:
        grads = ref.dense_mse_gradients(params, x, t)
        if clip_norm is not None:
            ref.clip_grad_norm_(grads, clip_norm)
        if clip_value is not None:
            ref.clip_grad_value_(grads, clip_value)
        optimizer.step(params, grads)
    return params


def _artifacts(tmp_path: Path, configure: Callable[[SpecMaker], object]) -> Path:
    directory = tmp_path / "artifacts"
    to_training_artifacts(dense_mse(configure), directory)
    return directory


def _train(directory: Path, **hyperparameters: float | bool) -> tuple[Arrays, Arrays]:
    session = TrainingSession(directory, hyperparameters=hyperparameters or None)
    start = session.parameters()
    for x, t in BATCHES:
        session.train_step({"x": x, "t": t})
    return start, session.parameters()


def _train_with_plain_ort(directory: Path, optimizer_model: Path, lr: float) -> tuple[Arrays, Arrays]:
    """Module + Optimizer + lazy_reset_grad over BATCHES: what a stock ORT user would write."""
    state = ort_api.CheckpointState.load_checkpoint(str(directory / "checkpoint"))
    module = ort_api.Module(str(directory / "training_model.onnx"), state, str(directory / "eval_model.onnx"))
    optimizer = ort_api.Optimizer(str(optimizer_model), module)
    optimizer.set_learning_rate(lr)
    start = {name: np.array(state.parameters[name].data) for name in ("fc.weights", "fc.bias")}
    for x, t in BATCHES:
        module(x, t)
        optimizer.step()
        module.lazy_reset_grad()
    return start, {name: state.parameters[name].data for name in start}


def _assert_close(actual: Arrays, expected: Arrays) -> None:
    for name, value in expected.items():
        np.testing.assert_allclose(actual[name], value, rtol=1e-5, atol=1e-6, err_msg=name)


CASES: dict[str, tuple[Callable[[SpecMaker], object], Callable[[], Any], dict[str, float]]] = {
    "sgd": (lambda m: m.sgd(0.1), lambda: ref.SGD(0.1), {}),
    "sgd_momentum": (lambda m: m.sgd(0.1, momentum=0.9), lambda: ref.SGD(0.1, momentum=0.9), {}),
    "sgd_nesterov": (
        lambda m: m.sgd(0.1, momentum=0.8, nesterov=True),
        lambda: ref.SGD(0.1, momentum=0.8, nesterov=True),
        {},
    ),
    "sgd_weight_decay": (lambda m: m.sgd(0.1, weight_decay=0.3), lambda: ref.SGD(0.1, weight_decay=0.3), {}),
    "sgd_all": (
        lambda m: m.sgd(0.05, momentum=0.7, nesterov=True, weight_decay=0.2).clip(value=0.05),
        lambda: ref.SGD(0.05, momentum=0.7, nesterov=True, weight_decay=0.2),
        {"clip_value": 0.05},
    ),
    "adam": (lambda m: m.adam(0.05), lambda: ref.Adam(0.05), {}),
    "adam_l2": (
        lambda m: m.adam(0.05, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1),
        lambda: ref.Adam(0.05, 0.8, 0.99, 1e-6, 0.1),
        {},
    ),
    "adamw": (
        lambda m: m.adam(0.05, decoupled=True, weight_decay=0.1),
        lambda: ref.AdamW(0.05, weight_decay=0.1),
        {},
    ),
    "sgd_clip_norm": (lambda m: m.sgd(0.1).clip(norm=0.05), lambda: ref.SGD(0.1), {"clip_norm": 0.05}),
    "adamw_clip_norm": (
        lambda m: m.adam(0.05, decoupled=True, weight_decay=0.01).clip(norm=0.05),
        lambda: ref.AdamW(0.05, weight_decay=0.01),
        {"clip_norm": 0.05},
    ),
    "sgd_clip_value": (
        lambda m: m.sgd(0.1).clip(value=0.02),
        lambda: ref.SGD(0.1),
        {"clip_value": 0.02},
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_three_steps_match_pytorch_semantics(tmp_path: Path, case: str) -> None:
    configure, make_reference, clipping = CASES[case]
    start, trained = _train(_artifacts(tmp_path, configure))
    _assert_close(trained, _reference(start, make_reference(), **clipping))


def test_the_clipping_thresholds_above_really_clip(tmp_path: Path) -> None:
    start, _ = _train(_artifacts(tmp_path, lambda m: m.sgd(0.0)))
    grads = ref.dense_mse_gradients(start, *BATCHES[0])
    assert np.sqrt(sum(float(np.sum(g**2)) for g in grads.values())) > 0.05 * 2
    assert max(float(np.max(np.abs(g))) for g in grads.values()) > 0.05 * 2


@pytest.mark.parametrize(
    ("configure", "overrides", "make_reference"),
    [
        (
            lambda m: m.sgd(0.1),
            {"momentum": 0.5, "nesterov": True, "weight_decay": 0.05},
            lambda: ref.SGD(0.1, momentum=0.5, nesterov=True, weight_decay=0.05),
        ),
        (
            lambda m: m.adam(0.05, decoupled=True),
            {"beta1": 0.5, "beta2": 0.9, "eps": 1e-4, "weight_decay": 0.2},
            lambda: ref.AdamW(0.05, 0.5, 0.9, 1e-4, 0.2),
        ),
        (
            lambda m: m.adam(0.05),
            {"beta1": 0.7, "weight_decay": 0.3, "learning_rate": 0.02},
            lambda: ref.Adam(0.02, beta1=0.7, weight_decay=0.3),
        ),
    ],
    ids=["sgd_graph_settings", "adamw_regenerated_model", "adam_mixed"],
)
def test_overrides_of_baked_settings_take_effect(
    tmp_path: Path, configure: Callable[[SpecMaker], object], overrides: dict[str, float], make_reference: Any
) -> None:
    start, trained = _train(_artifacts(tmp_path, configure), **overrides)
    _assert_close(trained, _reference(start, make_reference()))


def test_clip_overrides_take_effect(tmp_path: Path) -> None:
    directory = _artifacts(tmp_path, lambda m: m.sgd(0.1).clip(norm=10.0))
    start, trained = _train(directory, clip_norm=0.01)
    _assert_close(trained, _reference(start, ref.SGD(0.1), clip_norm=0.01))


def test_resumed_checkpoint_continues_with_optimizer_state_and_learning_rate(tmp_path: Path) -> None:
    directory = _artifacts(tmp_path, lambda m: m.adam(0.05, decoupled=True, weight_decay=0.1))
    session = TrainingSession(directory, hyperparameters={"beta1": 0.6})
    start = session.parameters()
    session.learning_rate = 0.03
    for x, t in BATCHES[:2]:
        session.train_step({"x": x, "t": t})
    session.save_checkpoint(tmp_path / "resume.ckpt", {"epoch": 2, "note": "half"})
    resumed = TrainingSession(directory, checkpoint=tmp_path / "resume.ckpt")
    assert resumed.learning_rate == pytest.approx(0.03)
    assert resumed.checkpoint_properties() == {"epoch": 2, "note": "half"}
    resumed.train_step({"x": BATCHES[2][0], "t": BATCHES[2][1]})
    _assert_close(resumed.parameters(), _reference(start, ref.AdamW(0.03, beta1=0.6, weight_decay=0.1)))


def test_a_plain_ort_loop_runs_sgd_momentum_alone(tmp_path: Path) -> None:
    """stock_ort.runs_alone: Module + Optimizer + lazy_reset_grad and nothing mlspec-specific."""
    directory = _artifacts(tmp_path, lambda m: m.sgd(0.1, momentum=0.9, nesterov=True, weight_decay=0.1))
    manifest = TrainingSession(directory).manifest
    assert manifest.stock_ort.runs_alone
    start, trained = _train_with_plain_ort(directory, directory / "optimizer_model.onnx", 0.1)
    _assert_close(trained, _reference(start, ref.SGD(0.1, momentum=0.9, nesterov=True, weight_decay=0.1)))


def test_onnxblock_default_adamw_is_the_hugging_face_form_not_pytorch(tmp_path: Path) -> None:
    """Why optimizers.py sets adam_mode=0: the stock block differs from torch.optim.AdamW."""
    directory = _artifacts(tmp_path, lambda m: m.adam(0.05, decoupled=True, weight_decay=0.1, eps=1e-3))
    stock = build_optimizer_model(
        "adamw", {"beta1": 0.9, "beta2": 0.999, "eps": 1e-3, "weight_decay": 0.1}, 21
    )
    for node in stock.graph.node:
        for attribute in node.attribute:
            if attribute.name == "adam_mode":
                attribute.i = 1
    onnx.save(stock, str(tmp_path / "hf.onnx"))
    start, trained = _train_with_plain_ort(directory, tmp_path / "hf.onnx", 0.05)
    expected = _reference(start, ref.AdamW(0.05, eps=1e-3, weight_decay=0.1))
    worst = max(float(np.max(np.abs(trained[n] - expected[n]))) for n in start)
    assert worst > 1e-4


def test_momentum_buffers_are_checkpoint_state_written_in_place_by_the_training_graph(tmp_path: Path) -> None:
    """The in-graph momentum relies on InPlaceAccumulatorV2 overwriting a frozen checkpoint tensor."""
    directory = _artifacts(tmp_path, lambda m: m.sgd(0.1, momentum=0.9))
    session = TrainingSession(directory)
    assert session.manifest.optimizer.state == ["mlspec.momentum/fc.weights", "mlspec.momentum/fc.bias"]
    start = session.parameters()
    session.train_step({"x": BATCHES[0][0], "t": BATCHES[0][1]})
    state = ort_api.CheckpointState.load_checkpoint(str(directory / "checkpoint"))
    np.testing.assert_array_equal(state.parameters["mlspec.momentum/fc.weights"].data, 0.0)  # file untouched
    session.save_checkpoint(tmp_path / "after", {})
    saved = ort_api.CheckpointState.load_checkpoint(str(tmp_path / "after"))
    expected = ref.dense_mse_gradients(start, *BATCHES[0])["fc.weights"]
    np.testing.assert_allclose(
        saved.parameters["mlspec.momentum/fc.weights"].data, expected, rtol=1e-5, atol=1e-7
    )


def test_the_numpy_reference_obeys_textbook_identities() -> None:
    """The yardstick itself, checked against facts that need no implementation to know."""
    p = {"w": np.array([1.0, -2.0, 3.0])}
    g = {"w": np.array([0.5, -4.0, 0.0])}
    adam = ref.Adam(0.1, eps=1e-12)
    adam.step(p, g)  # first bias-corrected Adam step moves by lr * sign(g)
    np.testing.assert_allclose(p["w"], [0.9, -1.9, 3.0], rtol=1e-9)
    decayed = {"w": np.array([2.0])}
    ref.AdamW(0.1, weight_decay=0.5).step(decayed, {"w": np.array([0.0])})
    np.testing.assert_allclose(decayed["w"], [2.0 * (1 - 0.05)])
    heavy = {"w": np.array([0.0])}
    sgd = ref.SGD(1.0, momentum=0.5)
    for _ in range(3):
        sgd.step(heavy, {"w": np.array([1.0])})
    np.testing.assert_allclose(heavy["w"], [-(1 + 1.5 + 1.75)])  # buffers 1, 1.5, 1.75
    clipped = {"a": np.array([3.0]), "b": np.array([4.0])}
    assert ref.clip_grad_norm_(clipped, 1.0) == pytest.approx(5.0)
    assert np.hypot(clipped["a"][0], clipped["b"][0]) == pytest.approx(1.0, rel=1e-6)
    values = {"a": np.array([-3.0, 0.2, 9.0])}
    ref.clip_grad_value_(values, 1.0)
    np.testing.assert_array_equal(values["a"], [-1.0, 0.2, 1.0])
