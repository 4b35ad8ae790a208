"""One spec, many independent mistakes: validation reports every one of them in one pass."""

from __future__ import annotations

import pytest

import mlspec
from mlspec.spec.hyper import int_parameter
from tests.support.specs import classifier, weights


def test_every_independent_problem_is_reported() -> None:
    model = classifier()
    model.network.layers[0].inner_product.weights.CopyFrom(weights(1000))  # wrong size
    model.network.layers[1].is_updatable = True  # activation cannot train
    model.update_parameters.loss_layers[0].input = "logits"  # probabilities loss off the softmax
    model.update_parameters.optimizer.sgd.mini_batch_size.CopyFrom(int_parameter(3, [1, 2, 8]))
    model.update_parameters.epochs.CopyFrom(int_parameter(0, (0, 10)))
    model.classifier.string_labels.values.append("fish")  # 4 labels for 3 classes
    with pytest.raises(mlspec.ValidationError) as caught:
        mlspec.validate(model)
    wheres = [p.where for p in caught.value.problems]
    assert wheres == [
        "classifier.labels",
        'layers["fc1"].weights',
        'layers["relu1"]',
        'update_parameters.loss_layers["ce"].input',
        "update_parameters.optimizer.sgd.mini_batch_size",
        "update_parameters.epochs",
    ]
    text = str(caught.value)
    assert text.startswith("spec has 6 problems:")
    assert all(p.fix and f"Fix: {p.fix}" in text for p in caught.value.problems)
    assert mlspec.find_problems(model) == caught.value.problems
