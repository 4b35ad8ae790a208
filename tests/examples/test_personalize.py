"""The Core ML personalisation recipe, shortened, through the real `mlspec train` command.

Chance on the validation set (three new classes, equally many examples each) is 1/3 for a model
that guesses among them and 1/10 for one guessing among all its outputs; the default run
(SGD lr 0.001, 10 epochs) must beat 1/3 by at least 20 points, and the lr 0.01 / 50 epochs run
must do better still.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from mlspec import Model, load, validate
from mlspec.convert.importers import import_coreml
from mlspec.reference import evaluate
from mlspec.reference import knn as knn_reference
from mlspec.spec import graph, kinds, weights
from mlspec.spec import knn as spec_knn
from tests.examples.loader import load_example

personalize = load_example("personalize")
CHANCE = 1 / 3
MARGIN = 0.20


def tensor(spec: Model, layer: str, field: str) -> npt.NDArray[np.generic]:
    return weights.to_numpy(dict(kinds.layer_tensors(graph.find_layer(spec, layer)))[field])


def test_new_classes_are_learned_through_mlspec_train(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    outcome = personalize.main(["--quick", "--out", str(tmp_path)])
    printed = capsys.readouterr().out
    assert outcome.base_accuracy >= 0.95
    (pretrained,) = outcome.variants
    assert pretrained.new_class_accuracy >= CHANCE + MARGIN
    assert outcome.override_accuracy > pretrained.new_class_accuracy
    # The per-epoch table mlspec train printed: a header and one row per epoch.
    assert (
        "train loss" in pretrained.table and "val loss" in pretrained.table and "val acc" in pretrained.table
    )
    rows = [
        line.split()
        for line in pretrained.table.splitlines()
        if line.split()[:1] in [[str(e)] for e in range(1, 11)]
    ]
    assert [int(row[0]) for row in rows] == list(range(1, 11))
    # The out-of-range override was refused before anything was written.
    assert "--batch-size=3 is not in the allowed set {1, 2, 8, 16}" in outcome.refusal
    assert "widen it with mlspec make-updatable --batch-sizes" in outcome.refusal
    assert "--lr=1.5 is outside the allowed range" in printed
    assert not (tmp_path / "never.mlspec").exists()

    # Independently of the example's own measure: the numpy reference on val.npz.
    updated = load(tmp_path / "pretrained-updated.mlspec")
    validate(updated)
    with np.load(tmp_path / "val.npz", allow_pickle=False) as val:
        images, labels = val["image"], val["label"]
    probabilities = evaluate(updated, {"image": images})["probabilities"]
    predicted = np.array(graph.class_labels(updated))[np.argmax(probabilities, axis=1)]
    assert float(np.mean(predicted == labels)) == pytest.approx(pretrained.new_class_accuracy, abs=1e-9)

    # Only the updatable head changed; the convolutions are the pretrained ones, bit for bit.
    before = load(tmp_path / "pretrained.mlspec")
    for layer in ("conv1", "conv2"):
        assert tensor(before, layer, "weights").tobytes() == tensor(updated, layer, "weights").tobytes()
    assert (
        tensor(before, "classifier", "weights").tobytes()
        != tensor(updated, "classifier", "weights").tobytes()
    )

    # The k-NN variant: mlspec add-examples stored every training drawing through the frozen
    # extractor, and beats chance by the same margin; checked with the numpy reference k-NN.
    knn = load(tmp_path / "knn-updated.mlspec")
    validate(knn)
    assert outcome.knn.new_class_accuracy >= CHANCE + MARGIN
    with np.load(tmp_path / "train.npz", allow_pickle=False) as train:
        assert spec_knn.example_count(knn) == len(train["label"])
    knn_labels, _ = knn_reference.predict(knn, knn_reference.features(knn, {"image": images}))
    assert float(np.mean(knn_labels == labels)) == pytest.approx(outcome.knn.new_class_accuracy, abs=1e-9)
    extractor_weights = tensor(load(tmp_path / "base.mlspec"), "conv2", "weights").tobytes()
    assert tensor(knn, "conv2", "weights").tobytes() == extractor_weights

    # The updatable Core ML model of the same spec reads back as that spec (import-coreml).
    coreml = import_coreml(tmp_path / "pretrained.mlmodel")
    assert [layer.name for layer in coreml.network.layers if layer.is_updatable] == ["classifier"]
    head = tensor(before, "classifier", "weights").tobytes()
    assert tensor(coreml, "classifier", "weights").tobytes() == head
    assert graph.class_labels(coreml) == graph.class_labels(before)

    # The k-NN variant's Core ML pipeline reads back as the empty k-NN spec it came from.
    knn_coreml = import_coreml(tmp_path / "knn.mlmodel")
    empty_knn = load(tmp_path / "knn.mlspec")
    assert knn_coreml.is_updatable and spec_knn.example_count(knn_coreml) == 0
    assert knn_coreml.knn_classifier == empty_knn.knn_classifier
    for each in empty_knn.network.layers:  # Core ML writes out the strides and dilations of 1
        if each.HasField("convolution"):
            each.convolution.strides[:] = each.convolution.strides or [1, 1]
            each.convolution.dilations[:] = each.convolution.dilations or [1, 1]
    assert knn_coreml.network == empty_knn.network


def test_variants_and_recipe_settings() -> None:
    base, _ = personalize.pretrain(personalize.Settings(300, 1, 1, 1, 1, ("pretrained",)))
    pretrained = personalize.personalisable(base, "pretrained", train_conv=False, seed=0)
    empty = personalize.personalisable(base, "empty", train_conv=True, seed=0)
    expected_labels = ["0", "1", "2"] + [f"user{i}" for i in range(7)]
    for spec in (pretrained, empty):
        validate(spec)
        assert graph.class_labels(spec) == expected_labels
        update = spec.update_parameters
        sgd = update.optimizer.sgd
        assert sgd.learning_rate.default_value == pytest.approx(0.001)
        assert sgd.mini_batch_size.default_value == 8 and list(sgd.mini_batch_size.set.values) == [
            1,
            2,
            8,
            16,
        ]
        assert update.epochs.default_value == 10 and list(update.epochs.set.values) == [1, 10, 50]
        assert update.loss_layers[0].input == "probabilities"
    head = tensor(pretrained, "classifier", "weights")
    assert head.shape == (10, 144) and not head[3:].any()
    np.testing.assert_array_equal(head[:3], tensor(base, "classifier", "weights"))
    redrawn = tensor(empty, "classifier", "weights")
    assert redrawn[3:].any() and np.abs(redrawn).max() <= math.sqrt(6 / 144)
    updatable = {layer.name for layer in empty.network.layers if layer.is_updatable}
    assert updatable == {"conv2", "classifier"}
    assert {layer.name for layer in pretrained.network.layers if layer.is_updatable} == {"classifier"}


def test_train_conv_updates_conv2_and_nothing_before_it(tmp_path: Path) -> None:
    outcome = personalize.main(["--quick", "--train-conv", "--out", str(tmp_path)])
    assert outcome.variants[0].new_class_accuracy >= CHANCE + MARGIN
    before, after = load(tmp_path / "pretrained.mlspec"), load(tmp_path / "pretrained-updated.mlspec")
    assert tensor(before, "conv1", "weights").tobytes() == tensor(after, "conv1", "weights").tobytes()
    for layer in ("conv2", "classifier"):
        assert not np.array_equal(tensor(before, layer, "weights"), tensor(after, layer, "weights"))
