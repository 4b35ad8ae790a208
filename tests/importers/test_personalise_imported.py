"""The personalisation flow on an ONNX CNN classifier as torch.onnx.export writes it: import, widen
the classifier for new classes, make the head updatable, convert and train."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto

from mlspec.builder import AdamParams, NetworkBuilder
from mlspec.convert import to_onnx
from mlspec.convert.importers import import_onnx
from mlspec.reference import evaluate
from mlspec.runtime import Trainer
from mlspec.spec.graph import class_labels
from mlspec.spec.validate import find_problems
from tests.importers.onnx_models import (
    EXPORTED_CNN_KINDS,
    GraphBuilder,
    flatten_via_shape,
    image_batch,
    kinds,
    run_onnx,
)

OLD_LABELS = ["cat", "dog", "fox"]


def _exported_cnn() -> GraphBuilder:
    """Conv -> BatchNorm -> Relu -> MaxPool -> GAP -> flatten via Shape/Gather -> Linear -> Softmax."""
    b = GraphBuilder(opset=17, weights_in_constants=True)
    conv = b.node(
        "Conv",
        ["image", b.random("conv.w", 6, 3, 3, 3), b.random("conv.b", 6)],
        name="/backbone/conv/Conv",
        pads=[1, 1, 1, 1],
    )
    norm = b.node(
        "BatchNormalization",
        [conv, b.positive("bn.s", 6), b.random("bn.b", 6), b.random("bn.m", 6), b.positive("bn.v", 6)],
        name="/backbone/bn/BatchNormalization",
    )
    act = b.node("Relu", [norm], name="/backbone/relu/Relu")
    pooled = b.node("GlobalAveragePool", [b.node("MaxPool", [act], kernel_shape=[2, 2], strides=[2, 2])])
    flat = flatten_via_shape(b, pooled, name="/Reshape")
    logits = b.node(
        "Gemm", [flat, b.random("fc.w", 3, 6), b.random("fc.b", 3)], name="/head/fc/Gemm", transB=1
    )
    b.node("Softmax", [logits], name="/Softmax", axis=1)
    return b


def test_import_widen_make_updatable_and_train() -> None:
    b = _exported_cnn()
    original = b.build(
        [("image", TensorProto.FLOAT, ["batch", 3, 8, 8])],
        [b.nodes[-1].output[0]],
        output_names=["probabilities"],
        metadata={"class_labels": ",".join(OLD_LABELS)},
    )
    spec = import_onnx(original)
    assert kinds(spec) == EXPORTED_CNN_KINDS
    assert class_labels(spec) == OLD_LABELS
    images = image_batch(6, 3, 8, 8)
    np.testing.assert_allclose(
        run_onnx(to_onnx(spec), {"image": images})["probabilities"],
        run_onnx(original, {"image": images})["probabilities"],
        atol=1e-5,
    )
    head = spec.network.layers[6]
    assert head.name == "head_fc_Gemm"
    logits = head.outputs[0]
    before = evaluate(spec, {"image": images}, outputs=[logits])[logits]

    builder = NetworkBuilder.edit(spec)
    widened = builder.widen_classifier(5, labels=["owl", "elk"], init="kaiming_uniform", seed=3)
    assert widened == "head_fc_Gemm"
    after = evaluate(builder.spec, {"image": images}, outputs=[logits])[logits]
    assert after.shape == (6, 5)
    np.testing.assert_allclose(after[:, :3], before, rtol=1e-6, atol=1e-6)  # old classes untouched
    assert class_labels(builder.spec) == [*OLD_LABELS, "owl", "elk"]

    builder.make_updatable([widened])
    builder.set_loss("categorical_cross_entropy", builder.spec.classifier.predicted_probabilities_name)
    adam = AdamParams(lr=0.1, batch=8)
    adam.set_batch(8, [4, 8])
    builder.set_optimizer(adam)
    builder.set_epochs(20, [1, 20])
    personal = builder.spec
    assert find_problems(personal) == []

    train_images = image_batch(40, 3, 8, 8, seed=12)
    features = evaluate(personal, {"image": train_images}, outputs=[head.inputs[0]])[head.inputs[0]]
    # Labels that a linear head on the frozen features can learn: the most raised of five channels.
    standard = (features - features.mean(axis=0)) / features.std(axis=0)
    labels = [class_labels(personal)[i] for i in standard[:, :5].argmax(axis=1)]
    assert len(set(labels)) > 2
    with Trainer.from_spec(personal) as trainer:
        start = trainer.evaluate((train_images, np.array(labels))).loss
        result = trainer.train((train_images, np.array(labels)))
        end = trainer.evaluate((train_images, np.array(labels))).loss
        trained = trainer.updated_model()
    assert result.epochs_completed == 20
    assert end < start * 0.75
    assert result.epoch_losses[-1] < result.epoch_losses[0]
    np.testing.assert_array_equal(  # the backbone did not move
        evaluate(trained, {"image": images}, outputs=[head.inputs[0]])[head.inputs[0]],
        evaluate(personal, {"image": images}, outputs=[head.inputs[0]])[head.inputs[0]],
    )
