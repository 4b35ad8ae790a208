"""Construction: every add_* kind yields a valid spec, local checks on each add, outputs, editing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from mlspec import Model, SpecLoadError, load, save
from mlspec._proto import tensor_pb2
from mlspec.builder import NetworkBuilder
from mlspec.builder.layers import ACTIVATION_TYPES
from mlspec.spec import weights
from mlspec.spec.errors import SpecEditError
from mlspec.spec.shapes import infer_shapes
from mlspec.spec.validate import find_problems, validate
from tests.builder.networks import tensor, three_class_classifier


def _dims(model: Model, name: str) -> tuple[object, ...] | None:
    return infer_shapes(model)[name].dims


def test_convolution_pooling_and_normalisation_family_validates() -> None:
    builder = NetworkBuilder()
    builder.add_input("image", (4, 12, 12))
    builder.add_convolution("same", "image", 8, (3, 3), strides=(2, 2), padding="same")
    builder.add_convolution("depthwise", "same", 8, (3, 3), groups=8, dilations=(2, 2), padding=(2, 2, 2, 2))
    builder.add_convolution("lower", "depthwise", 8, (2, 2), padding="same_lower", has_bias=False)
    builder.add_batch_norm("bn", "lower")
    builder.add_activation("relu", "bn")
    builder.add_pooling("max", "relu", "max", (2, 2))
    builder.add_pooling(
        "avg", "max", "average", (2, 2), strides=(1, 1), padding="same", count_include_pad=True
    )
    builder.add_global_pooling("gap", "avg", "average")
    builder.add_flatten("flat", "gap")
    builder.add_inner_product("fc", "flat", 5)
    builder.add_softmax("probs", "fc")
    model = builder.spec
    validate(model)
    assert _dims(model, "same") == ("batch", 8, 6, 6)
    assert _dims(model, "depthwise") == ("batch", 8, 6, 6)
    assert _dims(model, "max") == ("batch", 8, 3, 3)
    assert _dims(model, "gap") == ("batch", 8, 1, 1)
    assert [f.name for f in model.description.outputs] == ["probs"]
    assert tensor(model, "depthwise", "weights").shape == (8, 1, 3, 3)
    assert model.network.layers[2].convolution.has_bias is False


def test_convolution_1d_validates() -> None:
    builder = NetworkBuilder()
    builder.add_input("sequence", (3, 20))
    builder.add_convolution("conv", "sequence", 6, (5,), strides=(2,), padding="valid")
    builder.add_global_pooling("pool", "conv", "max")
    builder.add_flatten("flat", "pool")
    builder.add_inner_product("out", "flat", 1)
    validate(builder.spec)
    assert _dims(builder.spec, "conv") == ("batch", 6, 8)


def test_tensor_plumbing_family_validates() -> None:
    builder = NetworkBuilder()
    builder.add_input("x", (12,))
    builder.add_reshape("grid", "x", (3, 4))
    builder.add_transpose("swap", "grid", (0, 2, 1))
    builder.add_layer_norm("norm", "swap")
    builder.add_flatten("flat", "norm")
    builder.add_concat("both", ["flat", "x"], axis=1)
    builder.add_dropout("drop", "both", 0.25)
    builder.add_inner_product("left", "drop", 6)
    builder.add_inner_product("right", "drop", 6)
    builder.add_add("sum", ["left", "right"])
    builder.add_multiply("product", ["sum", "left"])
    model = builder.spec
    validate(model)
    assert _dims(model, "swap") == ("batch", 4, 3)
    assert _dims(model, "both") == ("batch", 24)
    assert list(model.network.layers[2].layer_norm.normalized_shape) == [3]


def test_embedding_and_onnx_node_validate() -> None:
    builder = NetworkBuilder()
    builder.add_input("tokens", (5,), dtype="int64")
    builder.add_embedding("embed", "tokens", vocab_size=30, embedding_dim=4)
    builder.add_flatten("flat", "embed")
    builder.add_onnx_node("abs", ["flat"], "Abs", output_types=[(tensor_pb2.FLOAT32, ["batch", 20])])
    builder.add_inner_product("out", "abs", 2)
    model = builder.spec
    validate(model)
    assert model.description.inputs[0].type.tensor.dtype == tensor_pb2.INT64
    assert list(model.network.layers[2].onnx_node.node_inputs) == ["flat"]


@pytest.mark.parametrize("activation", ACTIVATION_TYPES)
def test_every_activation_type_validates_with_its_defaults(activation: str) -> None:
    builder = NetworkBuilder()
    builder.add_input("x", (3,))
    layer = builder.add_activation("act", "x", activation)
    validate(builder.spec)
    assert layer.activation.ActivationType.Name(layer.activation.type) == activation.upper()
    if activation == "clip":
        assert (layer.activation.alpha, layer.activation.beta) == (0.0, 6.0)
    if activation == "leaky_relu":
        assert layer.activation.alpha == pytest.approx(0.01)


def test_inputs_gain_a_symbolic_batch_dimension() -> None:
    builder = NetworkBuilder()
    builder.add_input("image", (1, 20, 20))
    shape = builder.spec.description.inputs[0].type.tensor.shape
    assert [d.symbol or d.size for d in shape] == ["batch", 1, 20, 20]
    assert shape[0].WhichOneof("value") == "symbol"


def test_numpy_weights_are_stored_bit_for_bit() -> None:
    rng = np.random.default_rng(3)
    w, b = rng.normal(size=(3, 4)).astype(np.float32), rng.normal(size=3).astype(np.float32)
    builder = NetworkBuilder()
    builder.add_input("x", (4,))
    builder.add_inner_product("fc", "x", 3, weights=w, bias=b)
    assert tensor(builder.spec, "fc", "weights").tobytes() == w.tobytes()
    assert tensor(builder.spec, "fc", "bias").tobytes() == b.tobytes()
    builder.add_inner_product("half", "fc", 2, weights=np.ones((2, 3), np.float16))
    assert builder.spec.network.layers[1].inner_product.weights.dtype == tensor_pb2.FLOAT16


@pytest.mark.parametrize(
    ("add", "message"),
    [
        (
            lambda b: b.add_inner_product("fc", "x", 3, weights=np.zeros((4, 3))),
            r'layers\["fc"\].weights: got shape \[4, 3\], expected 3 x 4',
        ),
        (lambda b: b.add_inner_product("fc", "x", 3, bias=np.zeros(4)), r'layers\["fc"\].bias'),
        (
            lambda b: b.add_inner_product("first", "x", 2),
            r'layers\["first"\]: a layer with this name already exists',
        ),
        (
            lambda b: b.add_activation("act", "nowhere"),
            "'nowhere' is not a model input or an earlier layer's output; known tensors: first, x",
        ),
        (lambda b: b.add_activation("act", "x", output="first"), "output 'first' is already produced"),
        (lambda b: b.add_activation("act", "x", "swish"), "unknown activation 'swish'; use one of relu"),
        # The validator's words (the kind's declared numeric checks), not the builder's own.
        (
            lambda b: b.add_convolution("c", "x", 3, (3, 3), groups=2),
            r'layers\["c"\]\.groups: groups 2 must divide input_channels 4 and output_channels 3\. Fix: ',
        ),
        (
            lambda b: b.add_convolution("c", "x", 3, (3, 3), input_channels=1, strides=(1, 1, 1)),
            r'layers\["c"\]\.strides: strides has 3 entries for 2 spatial axes',
        ),
        (
            lambda b: b.add_pooling("p", "x", padding=(1, 1, 1)),
            r'layers\["p"\]\.padding\.explicit\.pads: explicit pads has 3 entries; 2 spatial axes need 4',
        ),
    ],
)
def test_add_refuses_local_mistakes_and_changes_nothing(
    add: Callable[[NetworkBuilder], object], message: str
) -> None:
    builder = NetworkBuilder()
    builder.add_input("x", (4,))
    builder.add_inner_product("first", "x", 2)
    before = builder.spec.SerializeToString()
    with pytest.raises(SpecEditError, match=message):
        add(builder)
    assert builder.spec.SerializeToString() == before


def test_classifier_outputs_follow_the_labels_type() -> None:
    model = three_class_classifier().spec
    validate(model)
    outputs = {f.name: f for f in model.description.outputs}
    assert list(outputs) == ["probabilities", "label"]
    assert outputs["label"].type.WhichOneof("kind") == "string_type"
    assert [d.symbol or d.size for d in outputs["probabilities"].type.tensor.shape] == ["batch", 3]
    assert model.classifier.predicted_probabilities_name == "probabilities"

    builder = NetworkBuilder(mode="classifier", class_labels=[3, 1, 4], predicted_feature_name="digit")
    builder.add_input("x", (2,))
    builder.add_inner_product("fc", "x", 3)
    builder.add_softmax("p", "fc")
    model = builder.spec
    validate(model)
    label = next(f for f in model.description.outputs if f.name == "digit")
    assert label.type.WhichOneof("kind") == "int64_type"
    assert list(model.classifier.int64_labels.values) == [3, 1, 4]


def test_declared_outputs_replace_the_inferred_ones() -> None:
    builder = NetworkBuilder()
    builder.add_input("x", (4,))
    builder.add_inner_product("a", "x", 3)
    builder.add_inner_product("b", "a", 2)
    builder.add_output("a", short_description="features")
    model = builder.spec
    assert [(f.name, f.short_description) for f in model.description.outputs] == [("a", "features")]
    validate(model)
    with pytest.raises(SpecEditError, match='output "missing" is not produced'):
        builder.add_output("missing")


def test_mode_checks() -> None:
    with pytest.raises(SpecEditError, match="mode 'tree'"):
        NetworkBuilder(mode="tree")  # type: ignore[arg-type]  # a mode outside the Literal, on purpose
    with pytest.raises(SpecEditError, match="class_labels are only for"):
        NetworkBuilder(mode="regressor", class_labels=["a"])


def test_editing_an_existing_spec_in_place(tmp_path: Path) -> None:
    path = tmp_path / "model.mlspec"
    save(three_class_classifier().spec, path)
    model = load(path)
    builder = NetworkBuilder.edit(model)
    assert builder.mode == "classifier" and builder.spec is model
    builder.add_dropout("extra", "probabilities", 0.1)
    assert model.network.layers[-1].name == "extra"
    # Declared outputs of an existing spec are kept, not re-inferred from the new last layer.
    assert [f.name for f in model.description.outputs] == ["probabilities", "label"]
    assert find_problems(model) == []
    with pytest.raises(SpecLoadError):
        load(tmp_path / "absent.mlspec")


def test_weights_keep_float32_for_float64_input() -> None:
    builder = NetworkBuilder()
    builder.add_input("x", (2,))
    builder.add_inner_product("fc", "x", 2, weights=np.eye(2), bias=[0.5, 0.25])
    fc = builder.spec.network.layers[0].inner_product
    assert fc.weights.dtype == tensor_pb2.FLOAT32
    assert weights.to_numpy(fc.bias).tolist() == [0.5, 0.25]


@pytest.mark.parametrize("rate", [-0.1, 1.0, 2.0])
def test_builder_refuses_a_dropout_rate_in_the_validators_words(rate: float) -> None:
    """The builder calls the validator's check, so both report one sentence (and nothing is added)."""
    builder = NetworkBuilder()
    builder.add_input("x", (3,))
    with pytest.raises(SpecEditError) as refused:
        builder.add_dropout("drop", "x", rate)
    assert not builder.spec.network.layers
    builder.add_dropout("drop", "x", 0.5)
    builder.spec.network.layers[0].dropout.rate = rate
    problems = [p for p in find_problems(builder.spec) if p.where.endswith(".rate")]
    assert [str(p) for p in problems] == [str(refused.value)]
    assert f"rate {rate:g} must lie in [0, 1)" in str(refused.value)
