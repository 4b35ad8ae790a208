"""Classifiers the way PyTorch writes them: a model ending in logits, or in log_softmax, imported
with class labels is a classifier. Inference outputs the probabilities (softmax of the original
logits, computed here with numpy) and the label; training minimises cross-entropy from the
logits, finite even where the probabilities underflow; widening keeps the old classes' relative
probabilities. Integer labels are labels: targets name classes 7, 8, 9, not indices 0, 1, 2.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto

from mlspec.builder import NetworkBuilder, SgdParams
from mlspec.convert import to_onnx
from mlspec.convert.importers import import_onnx
from mlspec.reference import evaluate
from mlspec.runtime import Trainer
from mlspec.spec.graph import class_labels
from tests.importers.onnx_models import GraphBuilder, run_onnx


def _torch_classifier(ending: str, scale: float = 0.5) -> onnx.ModelProto:
    b = GraphBuilder(opset=17)
    hidden = b.node(
        "Relu", [b.node("Gemm", ["x", b.random("fc1.weight", 8, 5), b.random("fc1.bias", 8)], transB=1)]
    )
    logits = b.node(
        "Gemm",
        [hidden, b.random("fc2.weight", 3, 8, scale=scale), b.random("fc2.bias", 3)],
        transB=1,
        name="/fc2/Gemm",
    )
    out = b.node("LogSoftmax", [logits], axis=1) if ending == "log_softmax" else logits
    return b.build([("x", TensorProto.FLOAT, ["batch", 5])], [out], output_names=[ending])


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities: np.ndarray = shifted / shifted.sum(axis=1, keepdims=True)
    return probabilities


@pytest.mark.parametrize("ending", ["logits", "log_softmax"])
def test_a_model_ending_in_logits_imports_as_a_classifier_and_widens(ending: str) -> None:
    original = _torch_classifier(ending)
    spec = import_onnx(original, labels=["cat", "dog", "fox"])
    assert spec.classifier.predicted_probabilities_name == "probabilities"
    assert [output.name for output in spec.description.outputs] == ["probabilities", "label"]
    x = np.random.default_rng(0).normal(size=(6, 5)).astype(np.float32)
    scores = run_onnx(original, {"x": x})[ending].astype(np.float64)
    expected = _softmax(scores)  # softmax of log_softmax is the softmax of the logits
    exported = run_onnx(to_onnx(spec), {"x": x})
    np.testing.assert_allclose(exported["probabilities"], expected, atol=1e-6)
    assert list(exported["label"]) == [["cat", "dog", "fox"][i] for i in expected.argmax(axis=1)]

    builder = NetworkBuilder.edit(spec)
    builder.widen_classifier(4, labels=["owl"], seed=3)
    assert class_labels(builder.spec) == ["cat", "dog", "fox", "owl"]
    wide = evaluate(builder.spec, {"x": x}, outputs=["probabilities"])["probabilities"]
    np.testing.assert_allclose(wide[:, :3] / wide[:, :3].sum(axis=1, keepdims=True), expected, atol=1e-5)


def test_integer_labels_are_labels_and_cross_entropy_trains_from_huge_logits() -> None:
    original = _torch_classifier("logits", scale=400.0)  # logits in the thousands
    spec = import_onnx(original, labels=["7", "8", "9"])
    assert class_labels(spec) == [7, 8, 9]
    builder = NetworkBuilder.edit(spec)
    builder.make_updatable(["fc2_Gemm"])
    builder.set_loss("categorical_cross_entropy", "probabilities")
    builder.set_optimizer(SgdParams(lr=0.0, batch=4))
    builder.set_epochs(1)
    x = np.random.default_rng(1).normal(size=(4, 5)).astype(np.float32)
    targets = np.array([9, 7, 8, 9])  # class values, as the labels name them
    logits = run_onnx(original, {"x": x})["logits"].astype(np.float64)
    assert np.abs(logits).max() > 200  # exp underflows float32 for the losing classes
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probabilities = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    expected = -log_probabilities[np.arange(4), targets - 7].mean()
    with Trainer.from_spec(builder.spec) as trainer:
        loss = trainer.evaluate((x, targets)).loss
        named = trainer.evaluate((x, targets.astype(str))).loss  # "9", as a CSV column holds it
    assert np.isfinite(loss)
    np.testing.assert_allclose(loss, expected, rtol=1e-4)
    assert named == loss
