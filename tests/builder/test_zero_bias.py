"""A bias-less head (torch's dynamo exporter drops all-zero biases) gets a zero bias that trains.

The added bias must leave the function unchanged, be flagged updatable, and take the SGD step the
update rule predicts (numpy, written out), also when the features are all zero and the weights
alone could never move the outputs.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlspec.backends import to_training_artifacts
from mlspec.backends.ort_training.session import TrainingSession
from mlspec.builder import NetworkBuilder, SgdParams
from mlspec.builder.updatable import biasless
from mlspec.reference import evaluate
from mlspec.spec import graph
from mlspec.spec.errors import SpecEditError
from tests.builder.networks import tensor
from tests.support.optim_reference import mse_gradient


def _biasless_regressor() -> NetworkBuilder:
    """x[2, 4, 4] -> conv 3x3 (no bias) -> flatten -> dense 2 (no bias)."""
    builder = NetworkBuilder(mode="regressor", seed=3)
    builder.add_input("x", (2, 4, 4))
    builder.add_convolution("conv", "x", 3, (3, 3), has_bias=False)
    builder.add_flatten("flat", "conv")
    builder.add_inner_product("head", "flat", 2, has_bias=False)
    return builder


def test_add_bias_gives_zero_trainable_biases_and_keeps_the_function() -> None:
    builder = _biasless_regressor()
    x = np.random.default_rng(0).normal(size=(5, 2, 4, 4)).astype(np.float32)
    before = evaluate(builder.spec, {"x": x})["head"]
    assert biasless(builder.spec, ["conv", "head", "flat"]) == ["conv", "head"]
    builder.make_updatable(["conv", "head"], add_bias=True)
    spec = builder.spec
    assert biasless(spec, ["conv", "head"]) == []
    for name, channels in (("conv", 3), ("head", 2)):
        layer = graph.find_layer(spec, name)
        message = getattr(layer, str(layer.WhichOneof("kind")))
        assert message.has_bias and message.bias.is_updatable and message.weights.is_updatable
        np.testing.assert_array_equal(tensor(spec, name, "bias"), np.zeros(channels, np.float32))
    np.testing.assert_array_equal(evaluate(spec, {"x": x})["head"], before)


def test_without_add_bias_nothing_is_added() -> None:
    builder = _biasless_regressor()
    builder.make_updatable(["head"])
    assert not graph.find_layer(builder.spec, "head").inner_product.has_bias
    assert biasless(builder.spec, ["head"]) == ["head"]


def test_a_refused_make_updatable_adds_no_bias() -> None:
    builder = _biasless_regressor()
    with pytest.raises(SpecEditError, match="flat"):
        builder.make_updatable(["head", "flat"], add_bias=True)
    assert not graph.find_layer(builder.spec, "head").inner_product.has_bias


def test_added_bias_takes_the_sgd_step_on_zero_features(tmp_path: Path) -> None:
    builder = _biasless_regressor()
    builder.make_updatable(["head"], add_bias=True)
    builder.set_loss("mean_squared_error", "head")
    builder.set_optimizer(SgdParams(lr=0.1, batch=4))
    builder.set_epochs(1)
    to_training_artifacts(builder.spec, tmp_path)
    session = TrainingSession(tmp_path)
    x = np.zeros((4, 2, 4, 4), np.float32)  # zero features: only a bias can move the output
    target = np.random.default_rng(1).normal(size=(4, 2)).astype(np.float32)
    # Outputs are 0, so the MSE loss (mean over all elements) is mean(target**2) and its
    # gradient with respect to the bias is the MSE gradient at 0, summed over the batch.
    expected_loss = float(np.mean(target.astype(np.float64) ** 2))
    expected_bias = -0.1 * mse_gradient(np.zeros_like(target), target).sum(axis=0)
    loss = session.train_step({"x": x, "head_true": target})
    assert loss == pytest.approx(expected_loss, rel=1e-5)
    np.testing.assert_allclose(session.parameters()["head.bias"], expected_bias, atol=1e-6)
    second = session.train_step({"x": x, "head_true": target})
    assert second < loss
