"""A spec that validates converts (issue 16): the spec fuzzer found specs validate accepted and
convert then refused (an activation or pooling type no enum value names, an onnx_node domain
mlspec's models do not import). Each is now a validation problem naming the field and the allowed
values, and the fuzzed inputs that found them, with a run of others, must validate and convert or
fail validation: never validate and then fail to convert."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlspec._proto import layers_pb2, model_pb2, tensor_pb2
from mlspec.backends import to_training_artifacts
from mlspec.spec.errors import MlspecError
from mlspec.spec.validate import find_problems
from tests.spec.test_onnx_node_gate import _pooled
from tools.fuzz.import_fuzz import make_input, seeds_for
from tools.fuzz.spec_fuzz import ValidButUnconvertibleError, load_validate_convert

ACTIVATIONS = "RELU, LEAKY_RELU, SIGMOID, TANH, GELU, ELU, SOFTPLUS, HARD_SIGMOID, HARD_SWISH, LINEAR, CLIP"
# Inputs of the spec fuzzer (seed 100) that validated but did not convert before the fix.
FOUND = [664, 2844, 3640, 4258, 6000, 8601, 8980, 9716, 20230]
# Seed 2026 (the 100,000-input run): a cross-entropy loss on a softmax over axis 2^31 (16590), a
# reshape of a scalar input (an IndexError in shape inference: 25500, 39015, 43628), a softmax
# output declared [batch] where an imported node hid the shapes (28402), an int64 scalar input
# read by an onnx_node (49698), an input of [batch, 1, 2^63 - 1, 4] that hung onnxruntime's
# gradient builder (51630), a float16 model input (76590), a dense layer after an onnx_node that
# declares no output types, reading a [batch, 1, 2, 2] tensor with input_channels 4 (52522).
FOUND_2026 = [16590, 25500, 28402, 39015, 43628, 49698, 51630, 52522, 76590]


def _texts(model: model_pb2.Model) -> list[str]:
    return [str(problem) for problem in find_problems(model)]


def _with_layer(layer: layers_pb2.Layer) -> model_pb2.Model:
    model = model_pb2.Model(spec_version=1)
    model.description.inputs.add(name="x").type.tensor.shape.add(symbol="batch")
    model.network.layers.append(layer)
    return model


@pytest.mark.parametrize(("value", "state"), [(0, "is unset"), (12, "12 is not one of the activation types")])
def test_activation_type_unset_or_unknown_is_a_validation_problem(value: int, state: str) -> None:
    layer = layers_pb2.Layer(name="act", inputs=["x"], outputs=["y"])
    layer.activation.type = value  # type: ignore[assignment]  # a raw number, possibly no member, on purpose
    expected = f'layers["act"].type: activation type {state}. Fix: set type to one of {ACTIVATIONS}'
    assert expected in _texts(_with_layer(layer))


def test_pooling_type_unknown_is_a_validation_problem() -> None:
    layer = layers_pb2.Layer(name="pool", inputs=["x"], outputs=["y"])
    layer.pooling.type = 3  # type: ignore[assignment]  # no PoolingType has this number, on purpose
    layer.pooling.kernel_shape.extend([2, 2])
    expected = "pooling type 3 is not one of the pooling types. Fix: set type to one of MAX, AVERAGE"
    assert f'layers["pool"].type: {expected}' in _texts(_with_layer(layer))


def test_onnx_node_in_a_domain_mlspec_does_not_import_is_a_validation_problem() -> None:
    model = _pooled(kernel_shape=[2, 2], strides=[2, 2])
    model.network.layers[0].onnx_node.domain = "MaxPool"
    assert _texts(model) == [
        """layers["pool"].onnx_node.domain: 'MaxPool' is not an operator domain mlspec's models import. """
        "Fix: use the default domain (empty) or one of ai.onnx.ml, com.microsoft"
    ]


def test_reshape_of_a_scalar_input_is_a_problem_not_an_index_error() -> None:
    model = model_pb2.Model(spec_version=1)
    model.description.inputs.add(name="x").type.tensor.dtype = tensor_pb2.FLOAT32
    layer = model.network.layers.add(name="r", inputs=["x"], outputs=["y"])
    layer.reshape.target_shape.extend([-1])
    assert any('layers["r"]' in text and "reshape needs [batch, ...]" in text for text in _texts(model))


@pytest.mark.parametrize(
    ("seed", "index"),
    [*((100, i) for i in FOUND), *((2026, i) for i in FOUND_2026), *((100, i) for i in range(20))],
)
def test_fuzzed_spec_that_validates_also_converts(tmp_path: Path, seed: int, index: int) -> None:
    path = tmp_path / "input.mlspec"
    path.write_bytes(make_input("spec", seed, index, seeds_for("spec")))
    try:
        load_validate_convert(path)
    except ValidButUnconvertibleError as exc:
        pytest.fail(f"spec fuzz seed {seed} input {index}: {exc}")
    except MlspecError:  # refused by load or validate naming the field: the other good end
        pass


def test_classifier_probabilities_of_rank_four_are_a_validation_problem() -> None:
    """Spec fuzz seed 100 #20230: predicted_probabilities_name named the [batch, 1, 2, 2] output of
    a MaxPool; validate accepted it and ORT's shape inference refused the label lookup."""
    model = _pooled(kernel_shape=[2, 2], strides=[2, 2])
    model.classifier.predicted_probabilities_name = "pool"
    assert _texts(model) == [
        'classifier.predicted_probabilities_name: "pool" has 4 dimensions; class probabilities are '
        "[batch, classes]. Fix: name the softmax output over the classes (flatten before the last "
        "dense layer)"
    ]


def _undeclared_pool(**attributes: object) -> model_pb2.Model:
    """x [1, 4, 4] -> onnx_node MaxPool without output_types -> flatten -> dense -> softmax."""
    model = _pooled(**attributes)
    del model.network.layers[0].onnx_node.output_types[:]
    return model


def test_spec_fuzz_52522_dense_after_an_onnx_node_without_output_types_is_checked() -> None:
    """Spec fuzz seed 2026 #52522: the flatten between the undeclared MaxPool and the dense layer
    became a dropout; validate knew no shape past the node and accepted the spec, and onnx's shape
    inference in convert found the MatMul's sizes incompatible. validate now asks onnx for the
    node's outputs, so the dense layer is checked against [batch, 1, 2, 2]."""
    model = _undeclared_pool(kernel_shape=[2, 2], strides=[2, 2])
    flat = model.network.layers[1]
    flat.ClearField("flatten")
    flat.dropout.SetInParent()
    assert _texts(model) == [
        'layers["fc"].input_channels: input "flat" [batch, 1, 2, 2] has 2 features on its last axis, '
        "but input_channels is 4. Fix: set input_channels to 2 (and resize the weights) or "
        "flatten/reshape the input"
    ]


def test_onnx_node_without_output_types_that_fits_validates_and_converts(tmp_path: Path) -> None:
    model = _undeclared_pool(kernel_shape=[2, 2], strides=[2, 2])
    assert _texts(model) == []
    to_training_artifacts(model, tmp_path / "artifacts")
    assert (tmp_path / "artifacts" / "manifest.json").is_file()


def test_onnx_node_without_output_types_that_onnx_refuses_names_the_layer() -> None:
    """A window of three axes over a 2-D image: onnx's inference refuses it, in validate now."""
    assert _texts(_undeclared_pool(kernel_shape=[2, 2, 2], strides=[2, 2])) == [
        """layers["pool"].onnx_node: ONNX's shape inference refuses the node: [ShapeInferenceError] """
        "Attribute kernel_shape has incorrect size. Fix: fix the node's inputs or attributes, or the "
        "layers that feed it"
    ]


def test_onnx_node_without_op_type_or_output_types_is_a_problem_not_a_schema_error() -> None:
    """Spec fuzz seed 11 #7: onnx was asked for the schema of the empty op type (a SchemaError)."""
    model = _undeclared_pool(kernel_shape=[2, 2], strides=[2, 2])
    model.network.layers[0].onnx_node.op_type = ""
    assert 'layers["pool"].onnx_node.op_type: is empty. Fix: give the ONNX operator type' in _texts(model)
