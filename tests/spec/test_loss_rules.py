"""Loss rules: names, inputs, targets and per-kind settings."""

from __future__ import annotations

import pytest

from mlspec._proto import model_pb2, tensor_pb2
from mlspec.spec.validate import find_problems
from tests.support.specs import classifier, int64_feature, regressor, string_feature, tensor_feature

from .helpers import assert_problem

CE = 'update_parameters.loss_layers["ce"]'
MSE = 'update_parameters.loss_layers["mse"]'


def add_second_loss(model: model_pb2.Model, name: str) -> None:
    loss = model.update_parameters.loss_layers.add(name=name, input="probs", target="true_label")
    loss.categorical_cross_entropy.SetInParent()


def test_several_weighted_losses_are_allowed() -> None:
    model = classifier()
    add_second_loss(model, "ce2")
    model.update_parameters.loss_layers[0].weight = 0.3
    assert find_problems(model) == []


def test_duplicate_loss_names() -> None:
    model = classifier()
    add_second_loss(model, "ce")
    assert_problem(model, CE, "used by 2 losses")


def test_loss_named_like_a_layer() -> None:
    model = classifier()
    model.update_parameters.loss_layers[0].name = "fc1"
    assert_problem(model, 'update_parameters.loss_layers["fc1"]', 'layers["fc1"]')


def test_unnamed_loss_and_missing_kind() -> None:
    model = classifier()
    model.update_parameters.loss_layers[0].name = ""
    assert_problem(model, "update_parameters.loss_layers[0]", "no name")
    model = classifier()
    model.update_parameters.loss_layers[0].ClearField("categorical_cross_entropy")
    problem = assert_problem(model, CE, "no loss kind")
    assert "huber" in problem.fix


@pytest.mark.parametrize("weight", [0.0, -1.0, float("nan")])
def test_loss_weight_must_be_positive(weight: float) -> None:
    model = classifier()
    model.update_parameters.loss_layers[0].weight = weight
    assert_problem(model, f"{CE}.weight", "must be > 0")


def test_huber_delta() -> None:
    model = regressor()
    model.update_parameters.loss_layers[0].huber.delta = -0.5
    assert_problem(model, f"{MSE}.huber.delta", "delta -0.5")


def test_loss_input_is_a_model_input() -> None:
    model = regressor()
    model.update_parameters.loss_layers[0].input = "x"
    problems = [p for p in find_problems(model) if p.where.startswith(MSE)]
    assert len(problems) == 1 and '"x" is a model input' in problems[0].message


def test_loss_input_not_produced() -> None:
    model = regressor()
    model.update_parameters.loss_layers[0].input = "ghost"
    problems = [p for p in find_problems(model) if p.where == f"{MSE}.input"]
    assert len(problems) == 1 and '"ghost" is not produced' in problems[0].message


def test_target_not_a_training_input() -> None:
    model = regressor()
    del model.description.training_inputs[:]
    assert_problem(model, f"{MSE}.target", '"y_true" is not a training input', "")


def test_target_produced_by_the_graph() -> None:
    model = classifier()
    model.update_parameters.loss_layers[0].target = "logits"
    assert_problem(model, f"{CE}.target", 'produced by layers["fc2"]')


def test_target_that_is_a_model_input() -> None:
    model = regressor()
    model.description.inputs.append(tensor_feature("y_true", ["batch", 2]))
    model.update_parameters.loss_layers[0].target = "y_true"
    problems = [p for p in find_problems(model) if p.where == f"{MSE}.target"]
    assert len(problems) == 1 and "model input" in problems[0].message


def test_cross_entropy_on_probabilities_needs_a_softmax() -> None:
    model = classifier()
    model.update_parameters.loss_layers[0].input = "logits"
    problem = assert_problem(model, f"{CE}.input", 'layers["fc2"] (inner_product)', "not from a softmax")
    assert problem.fix == "set from_logits or put the loss on the softmax output"
    model.update_parameters.loss_layers[0].categorical_cross_entropy.from_logits = True
    assert find_problems(model) == []


def test_cross_entropy_from_logits_on_a_softmax() -> None:
    model = classifier()
    model.update_parameters.loss_layers[0].categorical_cross_entropy.from_logits = True
    assert_problem(model, f"{CE}.input", "softmax", "from_logits is true")


@pytest.mark.parametrize(
    ("target", "ok"),
    [
        (int64_feature("t"), True),
        (tensor_feature("t", ["batch"], tensor_pb2.INT64), True),
        (tensor_feature("t", ["batch", 1], tensor_pb2.INT64), True),
        (tensor_feature("t", ["batch", 3], tensor_pb2.INT64), False),
        (tensor_feature("t", ["batch", 3]), False),
        (string_feature("t"), True),
    ],
)
def test_cross_entropy_target_types(target: tensor_pb2.FeatureDescription, ok: bool) -> None:
    model = classifier()
    model.description.training_inputs[0].CopyFrom(target)
    model.update_parameters.loss_layers[0].target = "t"
    problems = find_problems(model)
    if ok:
        assert problems == []
    else:
        assert [p.where for p in problems] == [f"{CE}.target"]
        assert "class indices" in problems[0].message


def test_string_target_needs_string_labels() -> None:
    model = classifier()
    model.classifier.int64_labels.values.extend([0, 1, 2])
    assert_problem(model, f"{CE}.target", "not a classifier with string labels")


@pytest.mark.parametrize("kind", ["mean_squared_error", "l1", "huber", "binary_cross_entropy"])
def test_elementwise_target_shaped_like_input(kind: str) -> None:
    model = regressor()
    loss = model.update_parameters.loss_layers[0]
    getattr(loss, kind).SetInParent()
    assert find_problems(model) == []
    model.description.training_inputs[0].CopyFrom(tensor_feature("y_true", ["batch", 3]))
    assert_problem(model, f"{MSE}.target", "[batch, 3]", "[batch, 2]")
    model.description.training_inputs[0].CopyFrom(int64_feature("y_true"))
    assert_problem(model, f"{MSE}.target", "int64", "float")
