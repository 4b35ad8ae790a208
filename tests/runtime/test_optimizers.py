"""Five steps through the Trainer equal a hand-written numpy optimizer with PyTorch's semantics.

The model is one dense layer under an MSE loss, whose gradient has a closed form, so the
reference needs nothing from mlspec but the initial weights. Optimizer settings are given as
overrides, which also shows that override values inside the allowed ranges take effect exactly
(including those ORT bakes into optimizer_model.onnx: betas, eps, AdamW's decay).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from mlspec.builder import AdamParams, AdamWParams, SgdParams
from mlspec.runtime import Trainer
from mlspec.spec.graph import find_layer
from mlspec.spec.weights import to_numpy
from tests.runtime.models import regressor
from tests.support import optim_reference as ref

STEPS = 5
BATCH = 4
Arrays = ref.Arrays


def _data() -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    rng = np.random.default_rng(42)
    x = rng.normal(size=(STEPS * BATCH, 3)).astype(np.float32)
    y = rng.normal(size=(STEPS * BATCH, 2)).astype(np.float32) * 3
    return x, y


def _reference(
    initial: Arrays, step: Callable[[Arrays, Arrays], None], clip: Callable[[Arrays], object] | None = None
) -> Arrays:
    params: Arrays = {name: value.astype(np.float64) for name, value in initial.items()}
    x, y = (a.astype(np.float64) for a in _data())
    for index in range(STEPS):
        xb, yb = x[index * BATCH : (index + 1) * BATCH], y[index * BATCH : (index + 1) * BATCH]
        grads = ref.dense_mse_gradients(params, xb, yb)
        if clip is not None:
            clip(grads)
        step(params, grads)
    return params


Case = tuple[SgdParams | AdamParams, dict[str, Any], Callable[[], ref.SGD | ref.Adam]]
CASES: dict[str, Case] = {
    "sgd": (SgdParams(lr=0.05, batch=BATCH), {}, lambda: ref.SGD(0.05)),
    "sgd_momentum": (
        SgdParams(lr=0.05, batch=BATCH),
        {"momentum": 0.9},
        lambda: ref.SGD(0.05, momentum=0.9),
    ),
    "sgd_nesterov": (
        SgdParams(lr=0.05, batch=BATCH),
        {"momentum": 0.8, "nesterov": True},
        lambda: ref.SGD(0.05, momentum=0.8, nesterov=True),
    ),
    "sgd_weight_decay": (
        SgdParams(lr=0.05, batch=BATCH, momentum=0.5),
        {"weight_decay": 0.1},
        lambda: ref.SGD(0.05, momentum=0.5, weight_decay=0.1),
    ),
    "adam": (
        AdamParams(lr=0.01, batch=BATCH),
        {"beta1": 0.8, "beta2": 0.99, "eps": 1e-6, "weight_decay": 0.05},
        lambda: ref.Adam(0.01, beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=0.05),
    ),
    "adamw": (
        AdamWParams(lr=0.01, batch=BATCH),
        {"weight_decay": 0.2, "beta1": 0.85},
        lambda: ref.AdamW(0.01, beta1=0.85, weight_decay=0.2),
    ),
}


def _initial(trainer: Trainer) -> Arrays:
    assert trainer.spec is not None
    layer = find_layer(trainer.spec, "fc")
    return {
        "fc.weights": to_numpy(layer.inner_product.weights).astype(np.float64),
        "fc.bias": to_numpy(layer.inner_product.bias).astype(np.float64),
    }


def _check(trainer: Trainer, expected: Arrays) -> None:
    result = trainer.train(_data())
    assert result.steps == STEPS
    trained = trainer.parameters()
    for name, value in expected.items():
        np.testing.assert_allclose(trained[name], value, rtol=1e-5, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("case", sorted(CASES))
def test_five_steps_match_the_pytorch_reference(case: str) -> None:
    params, overrides, make_reference = CASES[case]
    trainer = Trainer.from_spec(regressor(params), **overrides)
    expected = _reference(_initial(trainer), make_reference().step)
    _check(trainer, expected)


@pytest.mark.parametrize("kind", ["norm", "value"])
def test_clipping_matches_the_pytorch_reference_and_overrides_take_effect(kind: str) -> None:
    # The declared clip is 0.5; the override 0.05 is inside the allowed range and must be used.
    params = SgdParams(lr=0.1, batch=BATCH, momentum=0.5)
    spec = regressor(params, clip_norm=0.5) if kind == "norm" else regressor(params, clip_value=0.5)
    name = f"clip_{kind}"
    overrides: dict[str, Any] = {name: 0.05}
    trainer = Trainer.from_spec(spec, **overrides)
    sgd = ref.SGD(0.1, momentum=0.5)

    def clip(grads: Arrays) -> None:
        if kind == "norm":
            total = ref.clip_grad_norm_(grads, 0.05)
            assert total > 0.05  # the clip really bites
        else:
            ref.clip_grad_value_(grads, 0.05)

    _check(trainer, _reference(_initial(trainer), sgd.step, clip))


@pytest.mark.parametrize("case", ["sgd_momentum", "adam"])
def test_a_second_train_call_keeps_the_optimizer_state(case: str) -> None:
    """train() twice equals ten steps of one PyTorch optimizer kept across both passes.

    The docstring of Trainer.train promises this: momentum buffers, Adam's moments and its step
    count carry over. A reset (a new optimizer for the second call) gives different weights.
    """
    params, overrides, make_reference = CASES[case]
    trainer = Trainer.from_spec(regressor(params), **overrides)
    optimizer = make_reference()
    once = _reference(_initial(trainer), optimizer.step)
    twice = _reference({k: v.astype(np.float32) for k, v in once.items()}, optimizer.step)
    reset = _reference({k: v.astype(np.float32) for k, v in once.items()}, make_reference().step)
    trainer.train(_data())
    trainer.train(_data())
    trained = trainer.parameters()
    for name, expected in twice.items():
        np.testing.assert_allclose(trained[name], expected, rtol=1e-5, atol=1e-6, err_msg=name)
    assert any(not np.allclose(twice[name], reset[name], rtol=1e-4) for name in twice)
