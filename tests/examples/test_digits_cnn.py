"""The BNNS digits example, shortened: it must still reach 90% on fresh digits."""

from __future__ import annotations

import numpy as np
import pytest

from mlspec import validate
from mlspec.datasets import glyph_batch
from mlspec.reference import evaluate
from tests.examples.loader import load_example

digits_cnn = load_example("digits_cnn")


def test_quick_run_reaches_ninety_percent(capsys: pytest.CaptureFixture[str]) -> None:
    outcome = digits_cnn.main(["--quick"])
    settings = digits_cnn.QUICK
    assert outcome.accuracy >= 0.90
    assert 0 < outcome.iterations <= settings.max_iterations
    if outcome.stopped_early:
        assert outcome.final_average_loss < settings.loss_threshold
    else:
        assert outcome.iterations == settings.max_iterations
    # Judge the trained spec independently: the numpy reference on a batch the example never saw.
    validate(outcome.model)
    images, digits = glyph_batch(256, np.random.default_rng(12345), grid=digits_cnn.GRID)
    probabilities = evaluate(outcome.model, {"image": images})["probabilities"]
    assert float(np.mean(np.argmax(probabilities, axis=1) == digits)) >= 0.90
    assert "accuracy on 512 fresh digits" in capsys.readouterr().out


def test_spec_matches_the_sample() -> None:
    spec = digits_cnn.build_spec(digits_cnn.QUICK)
    layers = {layer.name: layer for layer in spec.network.layers}
    kinds = [layer.WhichOneof("kind") for layer in spec.network.layers]
    assert kinds == [
        "convolution",
        "batch_norm",
        "activation",
        "pooling",
        "flatten",
        "inner_product",
        "softmax",
    ]
    assert list(layers["conv"].convolution.kernel_shape) == [3, 3]
    assert layers["bn"].batch_norm.momentum == pytest.approx(0.9)
    assert layers["bn"].batch_norm.epsilon == pytest.approx(1e-7)
    assert list(layers["pool"].pooling.kernel_shape) == [2, 2]
    assert layers["fc"].inner_product.output_channels == 10
    update = spec.update_parameters
    assert update.optimizer.WhichOneof("kind") == "adamw"
    assert update.optimizer.adamw.learning_rate.default_value == pytest.approx(0.01)
    assert update.optimizer.adamw.weight_decay.default_value == pytest.approx(0.01)
    assert update.optimizer.adamw.mini_batch_size.default_value == 32
    assert update.clipping.max_value.default_value == pytest.approx(0.5)
    l2 = digits_cnn.build_spec(digits_cnn.Settings(**{**digits_cnn.QUICK.__dict__, "l2": True}))
    assert l2.update_parameters.optimizer.WhichOneof("kind") == "adam"
