"""FedProx's proximal term on both backends, against the update rule written out in numpy.

The spec: one dense layer under a mean-squared-error loss, so the data gradient has a closed
form, g = dL/dW. With the proximal term (mu/2)·||w − anchor||² a plain SGD step is
w' = w − lr·(g + mu·(w − anchor)); with clipping by value the proximal gradient is clipped
with the data gradient, as when the term is part of the loss in a PyTorch loop.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlspec._proto import model_pb2
from mlspec.backends import open_session, to_training_artifacts
from mlspec.builder import NetworkBuilder
from mlspec.runtime import HyperparameterError, Trainer
from mlspec.spec.errors import MlspecError
from mlspec.spec.hyper import double_parameter
from tests.support import optim_reference as ref
from tests.support.backends import BACKENDS
from tests.support.specs import SpecMaker, dense_mse

LR, MU = 0.1, 0.3
rng = np.random.default_rng(11)
BATCH = {"x": rng.normal(size=(8, 4)).astype(np.float32), "t": rng.normal(size=(8, 3)).astype(np.float32)}


def regression(*, proximal: bool = True, clip_value: float | None = None) -> model_pb2.Model:
    def configure(maker: SpecMaker) -> None:
        maker.sgd(LR)
        if clip_value is not None:
            maker.clip(value=clip_value)
        if proximal:
            maker.model.update_parameters.proximal_mu.CopyFrom(double_parameter(0.0, (0.0, 1.0)))

    return dense_mse(configure)


def sgd_step(
    w: dict[str, np.ndarray], anchor: dict[str, np.ndarray], clip: float | None
) -> dict[str, np.ndarray]:
    grads = ref.dense_mse_gradients(w, BATCH["x"], BATCH["t"])
    result = {}
    for name, value in w.items():
        direction = grads[name] + MU * (value - anchor[name])
        if clip is not None:
            direction = np.clip(direction, -clip, clip)
        result[name] = value - LR * direction
    return result


def float64(values: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {name: value.astype(np.float64) for name, value in values.items()}


@pytest.mark.parametrize("clip", [None, 0.2])
@pytest.mark.parametrize("backend", BACKENDS)
def test_one_step_adds_mu_times_the_distance_to_the_anchor(
    backend: str, clip: float | None, tmp_path: Path
) -> None:
    to_training_artifacts(regression(clip_value=clip), tmp_path, backend=backend)
    session = open_session(tmp_path, hyperparameters={"proximal_mu": MU})
    start = float64(session.parameters())
    anchor = {name: value + rng.normal(0, 0.5, size=value.shape) for name, value in start.items()}
    session.set_proximal_anchor({name: value.astype(np.float32) for name, value in anchor.items()})
    session.train_step(BATCH)
    expected = sgd_step(start, anchor, clip)
    for name, value in session.parameters().items():
        np.testing.assert_allclose(value, expected[name], rtol=0, atol=2e-6, err_msg=name)
    # The case tells something: the pull moves the step, and clipping (when on) cuts some of it.
    assert _gap(expected, sgd_step(start, start, clip)) > 1e-2
    assert clip is None or _gap(expected, sgd_step(start, anchor, None)) > 1e-3


def _gap(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    return max(float(np.abs(a[name] - b[name]).max()) for name in a)


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_anchor_starts_as_the_converted_weights_and_survives_a_checkpoint(
    backend: str, tmp_path: Path
) -> None:
    """Step 1 has no pull (w = anchor); step 2 pulls back towards the starting weights, also in a
    session reopened from a checkpoint taken after step 1."""
    to_training_artifacts(regression(), tmp_path / "a", backend=backend)
    session = open_session(tmp_path / "a", hyperparameters={"proximal_mu": MU})
    start = float64(session.parameters())
    session.train_step(BATCH)
    first = sgd_step(start, start, None)
    session.save_checkpoint(tmp_path / "after-one", {})
    session.train_step(BATCH)
    second = sgd_step(first, start, None)
    resumed = open_session(
        tmp_path / "a", hyperparameters={"proximal_mu": MU}, checkpoint=tmp_path / "after-one"
    )
    resumed.train_step(BATCH)
    for name, value in session.parameters().items():
        np.testing.assert_allclose(value, second[name], rtol=0, atol=2e-6, err_msg=name)
        np.testing.assert_array_equal(resumed.parameters()[name], value)


@pytest.mark.parametrize("backend", BACKENDS)
def test_without_a_declared_mu_there_is_no_term_and_no_override(backend: str, tmp_path: Path) -> None:
    manifest = to_training_artifacts(regression(proximal=False), tmp_path, backend=backend)
    assert manifest.optimizer.anchors == {}
    session = open_session(tmp_path)
    with pytest.raises(MlspecError, match="no proximal term: the spec fixes proximal_mu at 0"):
        session.set_proximal_anchor(session.parameters())
    with pytest.raises(HyperparameterError, match=r"proximal_mu=0\.1 is not in the allowed set \{0\.0\}"):
        Trainer.from_spec(regression(proximal=False), backend=backend, proximal_mu=0.1)


def test_anchors_are_checked_by_name_and_shape(tmp_path: Path) -> None:
    to_training_artifacts(regression(), tmp_path, backend="portable")
    session = open_session(tmp_path)
    weights = session.parameters()
    with pytest.raises(MlspecError, match=r"proximal anchor lacks 'fc\.bias'; give exactly: fc"):
        session.set_proximal_anchor({"fc.weights": weights["fc.weights"]})
    with pytest.raises(MlspecError, match=r"proximal anchor 'fc.bias': shape \(4,\), expected 3"):
        session.set_proximal_anchor({**weights, "fc.bias": np.zeros(4, np.float32)})


def test_mu_is_a_validated_hyperparameter_with_allowed_values() -> None:
    builder = NetworkBuilder.edit(regression(proximal=False))
    with pytest.raises(MlspecError, match=r"proximal_mu must be >= 0; got default -0\.1"):
        builder.set_proximal_mu(-0.1, (-1.0, 1.0))
    with pytest.raises(MlspecError, match="proximal_mu"):
        builder.set_proximal_mu(2.0, (0.0, 1.0))
    builder.set_proximal_mu(0.01, [0.0, 0.01, 0.1])
    spec = builder.spec
    with pytest.raises(
        HyperparameterError, match=r"proximal_mu=0\.5 is not in the allowed set \{0\.0, 0\.01, 0\.1\}"
    ):
        Trainer.from_spec(spec, proximal_mu=0.5)
    with Trainer.from_spec(spec, backend="portable", proximal_mu=0.1) as trainer:
        assert trainer.hyperparameters.proximal_mu == 0.1
