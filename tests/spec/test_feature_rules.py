"""Feature rules (inputs, outputs, training inputs) and classifier rules."""

from __future__ import annotations

from mlspec._proto import tensor_pb2
from mlspec.spec.validate import find_problems
from tests.support.specs import classifier, regressor, string_feature, tensor_feature

from .helpers import assert_problem


def test_feature_without_type() -> None:
    model = regressor()
    model.description.inputs[0].ClearField("type")
    problems = [p for p in find_problems(model) if p.where == 'description.inputs["x"].type']
    assert len(problems) == 1 and "not set" in problems[0].message


def test_feature_without_name() -> None:
    model = regressor()
    model.description.outputs[0].name = ""
    problems = find_problems(model)
    assert any(p.where == "description.outputs[0]" and "no name" in p.message for p in problems)


def test_tensor_feature_needs_dtype_and_shape() -> None:
    model = regressor()
    model.description.outputs[0].type.tensor.dtype = tensor_pb2.DATA_TYPE_UNSPECIFIED
    assert_problem(model, 'description.outputs["y"].type', "DATA_TYPE_UNSPECIFIED", "not supported")
    model = regressor()
    del model.description.outputs[0].type.tensor.shape[:]
    assert_problem(model, 'description.outputs["y"].type', "no shape")
    model = regressor()
    model.description.outputs[0].type.tensor.shape[1].size = 0
    messages = [p.message for p in find_problems(model) if p.where == 'description.outputs["y"].type']
    assert messages[0] == "has sizes [0] <= 0"


def test_duplicate_feature_names() -> None:
    model = regressor()
    model.description.outputs.append(tensor_feature("y", ["batch", 2]))
    assert_problem(model, 'description.outputs["y"]', "declared 2 times")


def test_training_input_may_repeat_a_model_input_unchanged() -> None:
    model = regressor()
    model.description.training_inputs.append(tensor_feature("x", ["batch", 4]))
    assert find_problems(model) == []
    model.description.training_inputs[-1].CopyFrom(tensor_feature("x", ["batch", 5]))
    assert_problem(model, 'description.training_inputs["x"]', 'model input "x"', "[batch, 5]")


def test_training_input_clashing_with_a_layer_output() -> None:
    model = regressor()
    model.description.training_inputs.append(tensor_feature("y", ["batch", 2]))
    assert_problem(model, 'description.training_inputs["y"]', 'produced by layers["fc"]')


def test_classifier_labels() -> None:
    model = classifier()
    model.classifier.string_labels.values.append("cat")
    problems = [p for p in find_problems(model) if p.where == "classifier.labels"]
    assert [p.message for p in problems] == [
        "labels cat appear more than once",
        '4 labels, but "probs" has 3 classes',
    ]
    model.classifier.ClearField("string_labels")
    problems = [p for p in find_problems(model) if p.where == "classifier.labels"]
    assert len(problems) == 1 and "no class labels" in problems[0].message


def test_classifier_names() -> None:
    model = classifier(updatable=False)
    model.classifier.predicted_probabilities_name = "nothing"
    assert_problem(model, "classifier.predicted_probabilities_name", '"nothing" is not produced')
    model = classifier(updatable=False)
    model.classifier.predicted_feature_name = ""
    model.description.outputs.pop()
    assert_problem(model, "classifier.predicted_feature_name", "empty")
    model = classifier(updatable=False)
    model.classifier.predicted_feature_name = "logits"
    model.description.outputs[1].CopyFrom(string_feature("logits"))
    assert_problem(model, "classifier.predicted_feature_name", "also a layer output")


def test_declared_output_type_agrees_with_the_network() -> None:
    model = classifier()
    model.description.outputs[0].CopyFrom(tensor_feature("probs", ["batch", 4]))
    assert_problem(model, 'description.outputs["probs"].type', "declared float32 [batch, 4]", "[batch, 3]")
    model.description.outputs[0].CopyFrom(tensor_feature("probs", ["n", 3]))
    assert find_problems(model) == []  # symbols are names, not numbers to compare
    model.description.outputs[0].CopyFrom(tensor_feature("probs", ["batch", 3], tensor_pb2.DOUBLE))
    assert_problem(model, 'description.outputs["probs"].type', "double", "float32")
