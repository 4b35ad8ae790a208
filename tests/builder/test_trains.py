"""A builder-made recipe spec converts and takes a real onnxruntime-training step as SGD predicts.

This checks the builder against what the converter and ORT consume (training inputs, flags, loss
and optimizer fields), with the expected update written out by hand in numpy.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mlspec.backends import to_training_artifacts
from mlspec.backends.ort_training.session import TrainingSession
from mlspec.builder import SgdParams
from tests.builder.networks import forward, tensor, three_class_classifier


def test_recipe_spec_takes_one_sgd_step_like_numpy(tmp_path: Path) -> None:
    builder = three_class_classifier(seed=4)
    builder.widen_classifier(10)
    builder.reinit("classifier", seed=5)
    builder.make_updatable(["classifier"])
    builder.set_loss("categorical_cross_entropy", "probabilities")
    sgd = SgdParams(lr=0.1, batch=8)
    sgd.set_batch(8, [1, 2, 8, 16])
    builder.set_optimizer(sgd)
    builder.set_epochs(10, [1, 10, 50])
    spec = builder.spec
    to_training_artifacts(spec, tmp_path)
    session = TrainingSession(tmp_path)

    rng = np.random.default_rng(8)
    features = rng.normal(size=(8, 16)).astype(np.float32)
    labels = rng.integers(0, 10, size=8)
    values = forward(spec, {"features": features})
    probabilities, hidden = values["probabilities"], values["relu"]
    expected_loss = -np.log(probabilities[np.arange(8), labels]).mean()
    grad_logits = (probabilities - np.eye(10)[labels]) / 8
    expected_w = tensor(spec, "classifier", "weights") - 0.1 * grad_logits.T @ hidden
    expected_b = tensor(spec, "classifier", "bias") - 0.1 * grad_logits.sum(axis=0)

    loss = session.train_step({"features": features, "label": labels.astype(np.int64)})
    assert abs(loss - expected_loss) < 1e-5
    after = session.parameters()
    np.testing.assert_allclose(after["classifier.weights"], expected_w, atol=1e-6)
    np.testing.assert_allclose(after["classifier.bias"], expected_b, atol=1e-6)
