"""Graph surgery: insert, remove, replace and rename layers, with readers, losses and names rewired."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from mlspec.builder import NetworkBuilder, SgdParams
from mlspec.spec import graph
from mlspec.spec.errors import SpecEditError
from mlspec.spec.validate import validate
from tests.builder.networks import forward, three_class_classifier

FEATURES = np.random.default_rng(5).normal(size=(3, 16)).astype(np.float32)


def _trainable() -> NetworkBuilder:
    builder = three_class_classifier()
    builder.make_updatable(["classifier"])
    builder.set_loss("categorical_cross_entropy", "probabilities")
    builder.set_optimizer(SgdParams())
    builder.set_epochs(1)
    validate(builder.spec)
    return builder


def _order(builder: NetworkBuilder) -> list[tuple[str, list[str], list[str]]]:
    return [(layer.name, list(layer.inputs), list(layer.outputs)) for layer in builder.spec.network.layers]


def test_insert_after_puts_the_layer_in_front_of_every_reader() -> None:
    builder = _trainable()
    builder.insert_after("hidden", "dropout", "drop", rate=0.2)
    validate(builder.spec)
    assert _order(builder)[:3] == [
        ("hidden", ["features"], ["hidden_output"]),
        ("drop", ["hidden_output"], ["hidden"]),
        ("relu", ["hidden"], ["relu"]),
    ]
    builder.insert_after("classifier", "activation", "scale", activation="linear", alpha=2.0)
    validate(builder.spec)
    assert graph.find_layer(builder.spec, "probabilities").inputs[0] == "classifier"
    assert graph.find_layer(builder.spec, "scale").outputs[0] == "classifier"


def test_insert_after_the_softmax_is_refused_by_the_loss_rule() -> None:
    builder = _trainable()
    before = builder.spec.SerializeToString()
    with pytest.raises(SpecEditError, match="not from a softmax"):
        builder.insert_after("probabilities", "dropout", "late")
    assert builder.spec.SerializeToString() == before


def test_insert_before_reroutes_one_input() -> None:
    builder = _trainable()
    builder.insert_before("classifier", "inner_product", "bottleneck", output_channels=8, init="zeros")
    validate(builder.spec)
    names = [layer.name for layer in builder.spec.network.layers]
    assert names.index("bottleneck") == names.index("classifier") - 1
    assert graph.find_layer(builder.spec, "classifier").inputs[0] == "bottleneck"
    assert graph.find_layer(builder.spec, "bottleneck").inputs[0] == "relu"


def test_remove_joins_input_to_readers_and_keeps_visible_names() -> None:
    builder = _trainable()
    builder.insert_after("hidden", "dropout", "drop", rate=0.2)
    before = forward(builder.spec, {"features": FEATURES})["probabilities"]
    builder.remove_layer("drop")
    validate(builder.spec)
    np.testing.assert_array_equal(forward(builder.spec, {"features": FEATURES})["probabilities"], before)
    assert "drop" not in [layer.name for layer in builder.spec.network.layers]
    # Removing the last layer before an exposed tensor hands its name to the layer upstream.
    plain = NetworkBuilder()
    plain.add_input("x", (3,))
    plain.add_inner_product("fc", "x", 2)
    plain.add_activation("act", "fc", "tanh")
    plain.add_output("act")
    plain.remove_layer("act")
    validate(plain.spec)
    assert _order(plain) == [("fc", ["x"], ["act"])]


def test_replace_keeps_place_inputs_and_output() -> None:
    builder = _trainable()
    builder.replace_layer("relu", "activation", activation="gelu")
    validate(builder.spec)
    relu = graph.find_layer(builder.spec, "relu")
    assert relu.activation.ActivationType.Name(relu.activation.type) == "GELU"
    assert [layer.name for layer in builder.spec.network.layers][1] == "relu"
    builder.replace_layer("hidden", "inner_product", output_channels=8, new_name="hidden2")
    validate(builder.spec)
    assert _order(builder)[0] == ("hidden2", ["features"], ["hidden"])


def test_rename_layer_renames_its_tensor_and_every_reference() -> None:
    builder = _trainable()
    builder.rename_layer("probabilities", "probs")
    builder.rename_layer("classifier", "head")
    spec = builder.spec
    validate(spec)
    assert spec.classifier.predicted_probabilities_name == "probs"
    assert spec.update_parameters.loss_layers[0].input == "probs"
    assert [f.name for f in spec.description.outputs] == ["probs", "label"]
    assert graph.find_layer(spec, "probs").inputs[0] == "head"
    builder.rename_tensor("features", "pixels")
    validate(builder.spec)
    assert graph.input_names(builder.spec) == ["pixels"]
    assert [f.name for f in builder.spec.description.training_inputs] == ["pixels", "label"]


RewireCall = Callable[[NetworkBuilder], None]


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda b: b.insert_after("hidden", "concat", "c"), "single-input kinds"),
        (lambda b: b.insert_after("hidden", "gizmo", "g"), "unknown layer kind 'gizmo'"),
        (
            lambda b: b.insert_after("hidden", "inner_product", "wide", output_channels=5),
            r'layers\["classifier"\]',
        ),
        (lambda b: b.insert_before("classifier", "dropout", "d", input_index=3), "has no input 3"),
        (lambda b: b.insert_after("ghost", "dropout", "d"), 'no layer named "ghost"'),
        (
            lambda b: b.remove_layer("hidden"),
            r'layers\["classifier"\].input_channels: .* but input_channels is 8',
        ),
        (
            lambda b: b.replace_layer("classifier", "activation"),
            '3 labels, but "probabilities" has 8 classes',
        ),
        (lambda b: b.rename_layer("hidden", "relu"), 'a layer named "relu" already exists'),
        (lambda b: b.rename_layer("hidden", "cross"), None),
        (lambda b: b.rename_tensor("relu", "features"), 'tensor "features" already exists'),
        (lambda b: b.rename_tensor("nothing", "x"), 'no tensor named "nothing"'),
    ],
)
def test_refused_rewiring_changes_nothing(call: RewireCall, message: str | None) -> None:
    builder = _trainable()
    before = builder.spec.SerializeToString()
    if message is None:  # control: a legal rename goes through
        call(builder)
        assert builder.spec.SerializeToString() != before
        validate(builder.spec)
        return
    with pytest.raises(SpecEditError, match=message):
        call(builder)
    assert builder.spec.SerializeToString() == before


def test_removing_a_layer_that_maps_an_input_to_an_exposed_output_is_refused() -> None:
    builder = NetworkBuilder()
    builder.add_input("x", (3,))
    builder.add_activation("act", "x", "relu")
    before = builder.spec.SerializeToString()
    with pytest.raises(SpecEditError, match='turns model input "x" into "act"'):
        builder.remove_layer("act")
    assert builder.spec.SerializeToString() == before
