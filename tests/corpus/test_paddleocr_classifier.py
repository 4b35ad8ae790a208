"""PaddleOCR's text-direction classifier, exactly as the rapidocr-onnxruntime wheel ships it:
imported with labels, widened from 2 to 4 classes without moving the old classes, and trained."""

from __future__ import annotations

import numpy as np

from mlspec.builder import AdamParams, NetworkBuilder
from mlspec.convert.importers import import_onnx
from mlspec.reference import evaluate
from mlspec.runtime import Trainer
from mlspec.spec.graph import class_labels
from tests.corpus.rows import corpus_dir, feeds, run, sidecar


def test_paddleocr_classifier_widens_from_2_to_4_classes_and_trains() -> None:
    directory = corpus_dir()
    assert directory is not None
    path = directory / "paddleocr_cls.onnx"
    spec = import_onnx(path, labels=["0", "180"])
    probabilities = spec.classifier.predicted_probabilities_name
    images = feeds(sidecar(directory, "paddleocr_cls"), 6, seed=4)["x"]
    shipped = run(str(path), {"x": images})[probabilities]
    before = evaluate(spec, {"x": images}, outputs=[probabilities])[probabilities]
    np.testing.assert_allclose(before, shipped, atol=1e-5)

    builder = NetworkBuilder.edit(spec)
    head = builder.widen_classifier(4, labels=[90, 270], seed=1)
    after = evaluate(builder.spec, {"x": images}, outputs=[probabilities])[probabilities]
    assert after.shape == (6, 4)
    assert class_labels(builder.spec) == [0, 180, 90, 270]  # integer labels are labels, not indices
    # The old classes keep their probabilities relative to each other.
    np.testing.assert_allclose(after[:, :2] / after[:, :2].sum(axis=1, keepdims=True), shipped, atol=1e-5)
    assert np.all(after[:, 2:] > 1e-3)  # and the new ones take a real share

    builder.make_updatable([head])
    builder.set_loss("categorical_cross_entropy", probabilities)
    builder.set_optimizer(AdamParams(lr=0.05, batch=16))
    builder.set_epochs(30)
    widened = builder.spec
    # Labels a linear head on the frozen features can learn: the most raised of four channels.
    train_images = feeds(sidecar(directory, "paddleocr_cls"), 16, seed=5)["x"]
    head_input = next(layer for layer in widened.network.layers if layer.name == head).inputs[0]
    features = evaluate(widened, {"x": train_images}, outputs=[head_input])[head_input]
    standard = (features - features.mean(axis=0)) / (features.std(axis=0) + 1e-6)
    labels = np.array(class_labels(widened))[standard[:, :4].argmax(axis=1)]
    assert len(set(labels)) > 2
    with Trainer.from_spec(widened, shuffle=False) as trainer:
        start = trainer.evaluate((train_images, labels)).loss
        trainer.train((train_images, labels))
        end = trainer.evaluate((train_images, labels)).loss
    assert end < 0.9 * start
