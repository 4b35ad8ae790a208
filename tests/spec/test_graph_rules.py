"""Graph rules: version, names, kinds, arity, definition order, cycles, declared outputs."""

from __future__ import annotations

import pytest

import mlspec
from mlspec._proto import layers_pb2
from mlspec.spec.validate import find_problems, validate
from tests.support.specs import activation, classifier, layer, regressor

from .helpers import assert_problem


def test_valid_specs_have_no_problems() -> None:
    assert find_problems(classifier()) == []
    assert find_problems(classifier(updatable=False)) == []
    assert find_problems(regressor()) == []
    validate(classifier())


def test_missing_spec_version() -> None:
    model = classifier()
    model.spec_version = 0
    assert_problem(model, "spec_version", "not set")


def test_unsupported_spec_version() -> None:
    model = classifier()
    model.spec_version = mlspec.SPEC_VERSION + 1
    assert_problem(model, "spec_version", str(mlspec.SPEC_VERSION + 1), "not supported")


def test_duplicate_layer_names() -> None:
    model = classifier()
    model.network.layers[1].name = "fc1"
    assert_problem(model, 'layers["fc1"]', "used by 2 layers")


def test_unnamed_layer() -> None:
    model = classifier()
    model.network.layers[1].name = ""
    assert_problem(model, "layers[1]", "no name")


def test_empty_network() -> None:
    model = classifier(updatable=False)
    del model.network.layers[:]
    del model.description.outputs[:]
    model.ClearField("classifier")
    assert_problem(model, "network.layers", "no layers")


def test_duplicate_output_names() -> None:
    model = classifier(updatable=False)
    model.network.layers.append(activation("relu2", "a1", "h1"))
    assert_problem(model, 'layers["relu2"].outputs', '"h1"', 'layers["fc1"]')


def test_output_shadowing_a_model_input() -> None:
    model = classifier(updatable=False)
    model.network.layers.append(activation("relu2", "a1", "x"))
    assert_problem(model, 'layers["relu2"].outputs', '"x"', "model input")


def test_kind_not_set() -> None:
    model = classifier(updatable=False)
    model.network.layers[1].ClearField("activation")
    problem = assert_problem(model, 'layers["relu1"]', "no kind")
    assert "inner_product" in problem.fix and "onnx_node" in problem.fix


@pytest.mark.parametrize(
    ("kind", "inputs", "expected"),
    [("add", ["a1"], "2 or more inputs"), ("softmax", ["a1", "h1"], "exactly 1 input")],
)
def test_input_count(kind: str, inputs: list[str], expected: str) -> None:
    model = classifier(updatable=False)
    model.network.layers.append(layer(kind, "extra", inputs, outputs=["extra_out"]))
    assert_problem(model, 'layers["extra"].inputs', expected, "got")


def test_typed_layer_has_one_output() -> None:
    model = classifier(updatable=False)
    model.network.layers[1].outputs.append("a1_copy")
    assert_problem(model, 'layers["relu1"].outputs', "exactly 1 output", "got 2")


def test_undefined_input() -> None:
    model = classifier(updatable=False)
    model.network.layers[1].inputs[0] = "nowhere"
    assert_problem(model, 'layers["relu1"].inputs', '"nowhere"', "not a model input")


def test_input_used_before_definition() -> None:
    model = classifier(updatable=False)
    layers = model.network.layers
    relu = layers_pb2.Layer()
    relu.CopyFrom(layers[1])
    del layers[1]
    layers.insert(0, relu)
    assert_problem(model, 'layers["relu1"].inputs', '"h1"', 'produced later, by layers["fc1"]')


def test_layer_reading_a_training_only_input() -> None:
    model = classifier()
    model.network.layers[1].inputs[0] = "true_label"
    problems = [p for p in find_problems(model) if p.where == 'layers["relu1"].inputs']
    assert len(problems) == 1 and "training input" in problems[0].message


def test_cycle_is_reported_once_with_its_members() -> None:
    model = classifier(updatable=False)
    layers = model.network.layers
    layers.append(layer("add", "loop_a", ["a1", "loop_b_out"], outputs=["loop_a_out"]))
    layers.append(activation("loop_b", "loop_a_out", "loop_b_out"))
    problem = assert_problem(model, 'layers["loop_a"]', "cycle", 'layers["loop_b"]')
    assert problem.message.count("->") == 2


def test_self_loop_is_a_cycle() -> None:
    model = classifier(updatable=False)
    model.network.layers.append(layer("add", "selfish", ["a1", "selfish_out"], outputs=["selfish_out"]))
    assert_problem(model, 'layers["selfish"]', "cycle")


def test_declared_output_not_produced() -> None:
    model = classifier(updatable=False)
    model.description.outputs[0].name = "probabilities"
    problems = find_problems(model)
    assert any(
        p.where == 'description.outputs["probabilities"]' and "not produced" in p.message for p in problems
    )


def test_validate_raises_with_every_problem() -> None:
    model = classifier(updatable=False)
    model.spec_version = 0
    model.network.layers[1].inputs[0] = "nowhere"
    with pytest.raises(mlspec.ValidationError) as caught:
        validate(model)
    assert len(caught.value.problems) == 2
    assert "spec_version" in str(caught.value) and 'layers["relu1"]' in str(caught.value)
