"""Core ML import: every training setting carried over field by field, the network computing what
the Core ML weights say, unmapped layers named, and the imported model training with its limits."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from coremltools.models import datatypes
from coremltools.models.neural_network import NeuralNetworkBuilder, SgdParams
from coremltools.models.utils import save_spec

from mlspec._proto import model_pb2
from mlspec.convert import to_onnx
from mlspec.convert.importers import CoreMLImportError, import_coreml
from mlspec.runtime import HyperparameterError, Trainer
from mlspec.spec.graph import class_labels
from mlspec.spec.validate import find_problems
from mlspec.spec.weights import to_numpy
from tests.importers.coreml_models import LABELS, cnn_classifier, conv_forward_numpy, mlp_regressor
from tests.importers.onnx_models import image_batch, kinds, run_onnx


def _double(ours: Any, theirs: Any, *, safe_max: float | None = None, safe_min: float | None = None) -> None:
    assert ours.default_value == pytest.approx(theirs.defaultValue)
    assert ours.range.min == pytest.approx(max(theirs.range.minValue, safe_min or theirs.range.minValue))
    assert ours.range.max == pytest.approx(min(theirs.range.maxValue, safe_max or theirs.range.maxValue))


def _int(ours: Any, theirs: Any) -> None:
    assert ours.default_value == theirs.defaultValue
    assert list(ours.set.values) == list(theirs.set.values)


def _features(features: Any) -> list[tuple[str, str]]:
    return [(f.name, f.short_description) for f in features]


def test_classifier_with_adam_imports_every_training_setting(tmp_path: Path) -> None:
    coreml, _ = cnn_classifier(tmp_path / "hands.mlmodel")
    spec = import_coreml(tmp_path / "hands.mlmodel")
    assert find_problems(spec) == []
    theirs = coreml.neuralNetworkClassifier
    assert kinds(spec) == ["convolution", "activation", "pooling", "flatten", "inner_product", "softmax"]
    assert [layer.name for layer in spec.network.layers] == [layer.name for layer in theirs.layers]
    assert spec.is_updatable
    updatable = {layer.name for layer in spec.network.layers if layer.is_updatable}
    assert updatable == {"conv", "dense"}
    for layer in spec.network.layers:
        kind = layer.WhichOneof("kind")
        if kind in ("convolution", "inner_product"):
            message = getattr(layer, kind)
            assert message.weights.is_updatable and message.bias.is_updatable
    assert class_labels(spec) == LABELS
    assert spec.classifier.predicted_feature_name == coreml.description.predictedFeatureName == "classLabel"
    assert spec.classifier.predicted_probabilities_name == "labelProbability"
    image = spec.description.inputs[0].type.tensor
    assert image.dtype == 1  # FLOAT32, from Core ML's DOUBLE
    assert [d.symbol or d.size for d in image.shape] == ["batch", 3, 6, 6]
    assert (
        _features(spec.description.training_inputs)
        == [(f.name, f.shortDescription) for f in coreml.description.trainingInput]
        == [("image", "Example image"), ("classLabel", "True label")]
    )
    assert spec.description.training_inputs[1].type.HasField("string_type")
    update = spec.update_parameters
    (loss,) = update.loss_layers
    (their_loss,) = theirs.updateParams.lossLayers
    assert loss.name == their_loss.name == "lossLayer"
    assert loss.input == their_loss.categoricalCrossEntropyLossLayer.input == "labelProbability"
    assert loss.HasField("categorical_cross_entropy") and not loss.categorical_cross_entropy.from_logits
    assert loss.target == "classLabel"  # the label training input Core ML feeds to the loss
    adam, their_adam = update.optimizer.adam, theirs.updateParams.optimizer.adamOptimizer
    _double(adam.learning_rate, their_adam.learningRate)
    assert (adam.learning_rate.range.min, adam.learning_rate.range.max) == (0.0001, 0.5)
    _int(adam.mini_batch_size, their_adam.miniBatchSize)
    assert list(adam.mini_batch_size.set.values) == [2, 4, 8]
    _double(adam.beta1, their_adam.beta1, safe_max=0.99999)
    _double(adam.beta2, their_adam.beta2, safe_max=0.99999)
    _double(adam.eps, their_adam.eps, safe_min=1e-12)
    assert adam.beta1.default_value == pytest.approx(0.85) and adam.eps.default_value == pytest.approx(1e-7)
    _int(update.epochs, theirs.updateParams.epochs)
    assert list(update.epochs.set.values) == [1, 6, 20]
    assert update.shuffle.default_value is True
    assert update.seed.default_value == theirs.updateParams.seed.defaultValue == 7
    assert spec.metadata.author == "tests"


def test_regressor_with_sgd_and_mse(tmp_path: Path) -> None:
    coreml = mlp_regressor(tmp_path / "reg.mlmodel")
    spec = import_coreml(tmp_path / "reg.mlmodel")
    assert find_problems(spec) == []
    assert not spec.HasField("classifier")
    assert kinds(spec) == ["inner_product", "activation", "inner_product"]
    assert [layer.is_updatable for layer in spec.network.layers] == [False, False, True]
    out = spec.network.layers[2].inner_product
    assert not out.has_bias and out.weights.is_updatable
    theirs = coreml.neuralNetworkRegressor.updateParams
    (loss,) = spec.update_parameters.loss_layers
    assert (loss.name, loss.input, loss.target) == (
        theirs.lossLayers[0].name,
        theirs.lossLayers[0].meanSquaredErrorLossLayer.input,
        theirs.lossLayers[0].meanSquaredErrorLossLayer.target,
    )
    assert loss.HasField("mean_squared_error")
    sgd, their_sgd = spec.update_parameters.optimizer.sgd, theirs.optimizer.sgdOptimizer
    _double(sgd.learning_rate, their_sgd.learningRate)
    _double(sgd.momentum, their_sgd.momentum)
    assert (sgd.momentum.range.min, sgd.momentum.range.max) == (0.0, 0.75)
    _int(sgd.mini_batch_size, their_sgd.miniBatchSize)
    _int(spec.update_parameters.epochs, theirs.epochs)
    target = next(f for f in spec.description.training_inputs if f.name == loss.target)
    assert [d.symbol or d.size for d in target.type.tensor.shape] == ["batch", 2]
    assert target.type.tensor.dtype == 1


def test_imported_network_computes_what_the_core_ml_weights_say(tmp_path: Path) -> None:
    _, weights = cnn_classifier(tmp_path / "hands.mlmodel")
    spec = import_coreml(tmp_path / "hands.mlmodel")
    images = image_batch(5, 3, 6, 6)
    outputs = run_onnx(to_onnx(spec), {"image": images})
    expected = conv_forward_numpy(images, weights)
    np.testing.assert_allclose(outputs["labelProbability"], expected, atol=1e-5)
    assert outputs["classLabel"].tolist() == [LABELS[i] for i in expected.argmax(axis=1)]


def test_unmapped_layer_kinds_are_refused_naming_each_layer(tmp_path: Path) -> None:
    builder = NeuralNetworkBuilder([("x", datatypes.Array(3))], [("y", datatypes.Array(3))])
    builder.add_unary("odd_unary", "x", "u", mode="exp")
    builder.add_activation("prelu", "PRELU", "u", "p", params=np.ones(3, np.float32))
    builder.add_activation("fine", "RELU", "p", "r")
    builder.add_scale(
        "scaler",
        W=np.ones(3, np.float32),
        b=None,
        has_bias=False,
        input_name="r",
        output_name="y",
        shape_scale=[3],
    )
    save_spec(builder.spec, str(tmp_path / "odd.mlmodel"))
    with pytest.raises(CoreMLImportError) as raised:
        import_coreml(tmp_path / "odd.mlmodel")
    message = str(raised.value)
    assert "3 layer(s) have no mlspec equivalent" in message
    assert 'layers["odd_unary"] (unary)' in message
    assert 'layers["prelu"] (activation: activation PReLU' in message
    assert 'layers["scaler"] (scale)' in message
    assert '"fine"' not in message
    assert "innerProduct" in message  # lists what is mapped


def test_vectors_and_images_meet_through_adapters(tmp_path: Path) -> None:
    """Global pooling yields [C, 1, 1]; Core ML's inner product reads it as a vector."""
    rng = np.random.default_rng(2)
    builder = NeuralNetworkBuilder(
        [("img", datatypes.Array(2, 4, 4)), ("v", datatypes.Array(2))], [("y", None)]
    )
    builder.add_pooling("gap", 1, 1, 1, 1, "AVERAGE", "VALID", "img", "g", is_global=True)
    builder.add_elementwise("mix", ["g", "v"], "m", mode="ADD")
    w = rng.standard_normal((3, 2)).astype(np.float32)
    builder.add_inner_product(
        "fc",
        W=w,
        b=None,
        input_channels=2,
        output_channels=3,
        has_bias=False,
        input_name="m",
        output_name="y",
    )
    save_spec(builder.spec, str(tmp_path / "mix.mlmodel"))
    spec = import_coreml(tmp_path / "mix.mlmodel")
    assert kinds(spec) == ["pooling", "reshape", "add", "flatten", "inner_product"]
    img, vec = image_batch(3, 2, 4, 4), image_batch(3, 2, seed=9)
    result = run_onnx(to_onnx(spec), {"img": img, "v": vec})["y"]
    np.testing.assert_allclose(result, (img.mean(axis=(2, 3)) + vec) @ w.T, atol=1e-5)


def _hands_data(count: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(21)
    labels = rng.integers(0, 3, count)
    images = rng.standard_normal((count, 3, 6, 6)).astype(np.float32) * 0.3
    images[np.arange(count), labels] += 1.0  # the class shows in one colour channel
    return images, np.array([LABELS[i] for i in labels])


def test_imported_classifier_trains_within_its_core_ml_limits(tmp_path: Path) -> None:
    cnn_classifier(tmp_path / "hands.mlmodel")
    spec: model_pb2.Model = import_coreml(tmp_path / "hands.mlmodel")
    with pytest.raises(HyperparameterError, match=r"mini_batch_size=3 is not in the allowed set \{2, 4, 8\}"):
        Trainer.from_spec(spec, mini_batch_size=3)
    with pytest.raises(HyperparameterError, match="epochs=7 is not in the allowed set"):
        Trainer.from_spec(spec, epochs=7)
    with pytest.raises(
        HyperparameterError, match=r"learning_rate=0\.9 is outside the allowed range \[0\.0001, 0\.5\]"
    ):
        Trainer.from_spec(spec, learning_rate=0.9)
    images, labels = _hands_data(24)
    with Trainer.from_spec(spec, mini_batch_size=8, epochs=6, learning_rate=0.05) as trainer:
        before = trainer.evaluate((images, labels)).loss
        result = trainer.train((images, labels))
        after = trainer.evaluate((images, labels)).loss
        updated = trainer.updated_model()
    assert result.epochs_completed == 6
    assert after < before * 0.8
    assert result.epoch_losses[-1] < result.epoch_losses[0]
    frozen_before = to_numpy(spec.network.layers[0].convolution.weights)
    assert not np.array_equal(to_numpy(updated.network.layers[0].convolution.weights), frozen_before)


def test_layer_family_follows_core_ml_layout(tmp_path: Path) -> None:
    """batchnorm, leakyReLU, permute, channel-last flatten, dense, embedding, add, scalar multiply,
    hard sigmoid, concat, reshape and softmax over C, checked against numpy on the builder arrays."""
    rng = np.random.default_rng(8)
    gamma, beta = rng.uniform(0.5, 1.5, 2), rng.standard_normal(2)
    mean, variance = rng.standard_normal(2), rng.uniform(0.5, 1.5, 2)
    dense = rng.standard_normal((3, 32)).astype(np.float32) * 0.2
    table = rng.standard_normal((3, 5)).astype(np.float32)  # Core ML: [output_channels, input_dim]
    builder = NeuralNetworkBuilder(
        [("x", datatypes.Array(2, 4, 4)), ("ids", datatypes.Array(1))], [("out", None)]
    )
    builder.add_batchnorm(
        "bn", 2, gamma, beta, mean, variance, input_name="x", output_name="bn", epsilon=1e-3
    )
    builder.add_activation("leaky", "LEAKYRELU", "bn", "lr", params=[0.1])
    builder.add_permute("swap", (0, 1, 3, 2), "lr", "pm")
    builder.add_flatten("flat", 1, "pm", "fl")
    builder.add_inner_product(
        "dense",
        W=dense,
        b=None,
        input_channels=32,
        output_channels=3,
        has_bias=False,
        input_name="fl",
        output_name="ip",
    )
    builder.add_embedding(
        "embed",
        W=table,
        b=None,
        input_dim=5,
        output_channels=3,
        has_bias=False,
        input_name="ids",
        output_name="emb",
    )
    builder.add_elementwise("sum", ["ip", "emb"], "s", mode="ADD")
    builder.add_elementwise("double", ["s"], "m", mode="MULTIPLY", alpha=2.0)
    builder.add_activation("hard", "SIGMOID_HARD", "m", "hs", params=[0.3, 0.4])
    builder.add_elementwise("cat", ["hs", "emb"], "cat", mode="CONCAT")
    builder.add_reshape("image", "cat", "rs", (6, 1, 1), 0)
    builder.add_softmax("soft", "rs", "out")
    save_spec(builder.spec, str(tmp_path / "family.mlmodel"))
    spec = import_coreml(tmp_path / "family.mlmodel")
    assert find_problems(spec) == []
    ids_type = spec.description.inputs[1].type.tensor
    assert ids_type.dtype == 3  # INT64: the embedding's ids
    assert kinds(spec) == [
        "batch_norm",
        "activation",
        "transpose",
        "transpose",
        "flatten",
        "inner_product",
        "embedding",
        "flatten",
        "add",
        "activation",
        "activation",
        "concat",
        "reshape",
        "softmax",
    ]

    x = image_batch(4, 2, 4, 4)
    ids = np.array([[0], [4], [2], [1]], dtype=np.int64)
    got = run_onnx(to_onnx(spec), {"x": x, "ids": ids})["out"]

    normed = (x - mean[None, :, None, None]) / np.sqrt(variance[None, :, None, None] + 1e-3)
    normed = normed * gamma[None, :, None, None] + beta[None, :, None, None]
    leaky = np.where(normed > 0, normed, 0.1 * normed)
    swapped = leaky.transpose(0, 1, 3, 2)
    flat = swapped.transpose(0, 2, 3, 1).reshape(4, 32)  # channel-last: H, W, C order
    embedded = table.T[ids[:, 0]]
    hard = np.clip(0.3 * (2.0 * (flat @ dense.T + embedded)) + 0.4, 0, 1)
    joined = np.concatenate([hard, embedded], axis=1)
    expected = np.exp(joined) / np.exp(joined).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(got.reshape(4, 6), expected, atol=1e-5)
    assert got.shape == (4, 6, 1, 1)


def test_sgd_classifier_with_int_labels_and_a_separate_probability_blob(tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    weights = rng.standard_normal((3, 4)).astype(np.float32)
    builder = NeuralNetworkBuilder([("x", datatypes.Array(4))], [("scores", None)], mode="classifier")
    builder.add_inner_product(
        "dense",
        W=weights,
        b=None,
        input_channels=4,
        output_channels=3,
        has_bias=False,
        input_name="x",
        output_name="z",
    )
    builder.add_softmax("softmax", "z", "softmax_out")
    builder.set_class_labels([10, 20, 30], predicted_feature_name="digit", prediction_blob="softmax_out")
    builder.make_updatable(["dense"])
    builder.set_categorical_cross_entropy_loss("ce", input="softmax_out")
    sgd = SgdParams(lr=0.2, batch=2, momentum=0.5)
    sgd.set_batch(2, [1, 2])
    builder.set_sgd_optimizer(sgd)
    builder.set_epochs(2)
    save_spec(builder.spec, str(tmp_path / "digits.mlmodel"))
    spec = import_coreml(tmp_path / "digits.mlmodel")
    assert find_problems(spec) == []
    assert class_labels(spec) == [10, 20, 30]
    assert spec.network.layers[-1].outputs == ["scores"]  # the blob takes the output's name
    assert spec.classifier.predicted_probabilities_name == "scores"
    (loss,) = spec.update_parameters.loss_layers
    # coremltools treats a loss on the blob as a plain one: an int32 [1] class-index target.
    assert (loss.input, loss.target) == ("scores", "softmax_out_true")
    target = next(f for f in spec.description.training_inputs if f.name == "softmax_out_true")
    assert target.type.HasField("int64_type")
    sgd_spec = spec.update_parameters.optimizer.sgd
    assert sgd_spec.momentum.default_value == 0.5 and (
        sgd_spec.momentum.range.min,
        sgd_spec.momentum.range.max,
    ) == (0, 1)
    assert list(sgd_spec.mini_batch_size.set.values) == [1, 2]
    assert list(spec.update_parameters.epochs.set.values) == [2]  # Core ML's "only the default"
    x = image_batch(5, 4)
    outputs = run_onnx(to_onnx(spec), {"x": x})
    logits = x @ weights.T
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(outputs["scores"], expected, atol=1e-5)
    assert outputs["digit"].tolist() == [[10, 20, 30][i] for i in expected.argmax(axis=1)]


def test_missing_coremltools_and_foreign_files_are_explained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    mlpackage = tmp_path / "model.mlpackage"
    mlpackage.mkdir()
    with pytest.raises(CoreMLImportError, match="ML Program"):
        import_coreml(mlpackage)
    (tmp_path / "junk.mlmodel").write_bytes(b"\x00\xffjunk")
    with pytest.raises(CoreMLImportError, match="not a readable Core ML model"):
        import_coreml(tmp_path / "junk.mlmodel")
    with pytest.raises(CoreMLImportError, match="no such Core ML file"):
        import_coreml(tmp_path / "absent.mlmodel")
    monkeypatch.setitem(sys.modules, "coremltools.proto", None)
    with pytest.raises(CoreMLImportError, match=r"install mlspec\[coreml\]"):
        import_coreml(tmp_path / "junk.mlmodel")
