"""Core ML's update-model validator rules, each with its mlspec counterpart (the floor).

Where mlspec deliberately allows more than Core ML (several losses, backprop through concat,
add and reshape, more trainable kinds), the test says so.
"""

from __future__ import annotations

from mlspec.spec.hyper import double_parameter, int_parameter
from mlspec.spec.validate import find_problems
from tests.support.specs import classifier

from .helpers import assert_problem, problems_at


def test_updatable_model_has_an_updatable_layer() -> None:
    model = classifier()
    for layer in model.network.layers:
        layer.is_updatable = False
    assert [p.where for p in problems_at(model, "is_updatable")] == ["is_updatable"]


def test_updatable_layer_weights_are_flagged() -> None:
    model = classifier()
    model.network.layers[2].inner_product.weights.is_updatable = False
    model.network.layers[2].inner_product.bias.is_updatable = False
    assert_problem(model, 'layers["fc2"]', "flagged")


def test_layer_names_are_unique() -> None:
    model = classifier()
    model.network.layers[2].name = "fc1"
    assert problems_at(model, 'layers["fc1"]')[0].message == "the name is used by 2 layers"


def test_loss_names_are_unique() -> None:
    model = classifier()
    model.update_parameters.loss_layers.add().CopyFrom(model.update_parameters.loss_layers[0])
    assert_problem(model, 'update_parameters.loss_layers["ce"]', "used by 2 losses")


def test_loss_input_is_produced_in_the_graph() -> None:
    model = classifier()
    model.update_parameters.loss_layers[0].input = "x"
    assert (
        problems_at(model, 'update_parameters.loss_layers["ce"].input')[0].message == '"x" is a model input'
    )


def test_loss_target_is_a_training_input_not_produced_by_the_graph() -> None:
    model = classifier()
    model.update_parameters.loss_layers[0].target = "h1"
    assert_problem(model, 'update_parameters.loss_layers["ce"].target', 'produced by layers["fc1"]')


def test_cross_entropy_on_probabilities_sits_on_a_softmax() -> None:
    model = classifier()
    model.update_parameters.loss_layers[0].input = "a1"
    [problem] = problems_at(model, 'update_parameters.loss_layers["ce"].input')
    assert "not from a softmax" in problem.message and "from_logits" in problem.fix


def test_defaults_lie_inside_range_or_set() -> None:
    model = classifier()
    model.update_parameters.optimizer.sgd.learning_rate.CopyFrom(double_parameter(0.5, [0.1, 0.01]))
    assert_problem(model, "update_parameters.optimizer.sgd.learning_rate", "not in the allowed set")


def test_batch_size_and_epochs_are_positive() -> None:
    model = classifier()
    model.update_parameters.optimizer.sgd.mini_batch_size.CopyFrom(int_parameter(0, (0, 8)))
    model.update_parameters.epochs.CopyFrom(int_parameter(0, [0]))
    wheres = [p.where for p in find_problems(model)]
    assert wheres == ["update_parameters.optimizer.sgd.mini_batch_size", "update_parameters.epochs"]


def test_range_min_not_above_max() -> None:
    model = classifier()
    model.update_parameters.optimizer.sgd.learning_rate.CopyFrom(double_parameter(0.1, (1.0, 0.0)))
    assert_problem(model, "update_parameters.optimizer.sgd.learning_rate", "greater than max")


def test_sets_are_non_empty_without_duplicates() -> None:
    model = classifier()
    model.update_parameters.epochs.CopyFrom(int_parameter(5, [5, 5]))
    assert_problem(model, "update_parameters.epochs", "duplicate")
    model.update_parameters.epochs.CopyFrom(int_parameter(5, []))
    assert_problem(model, "update_parameters.epochs", "empty")


def test_training_inputs_cover_the_loss_targets() -> None:
    model = classifier()
    del model.description.training_inputs[:]
    assert_problem(model, 'update_parameters.loss_layers["ce"].target', "not a training input")


def test_spec_version_is_present() -> None:
    model = classifier()
    model.spec_version = 0
    assert_problem(model, "spec_version", "not set")


def test_mlspec_allows_more_than_core_ml() -> None:
    """Several weighted losses, one of them on logits: Core ML allows a single loss on a softmax."""
    model = classifier()
    second = model.update_parameters.loss_layers.add(name="ce_logits", input="logits", target="true_label")
    second.categorical_cross_entropy.from_logits = True
    second.weight = 0.5
    assert find_problems(model) == []
