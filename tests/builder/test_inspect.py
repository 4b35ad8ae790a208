"""Inspection returns JSON-ready data covering the layers, training setup, features and labels."""

from __future__ import annotations

import json

import numpy as np

from mlspec.builder import AdamWParams, NetworkBuilder, inspect_model
from mlspec.spec import kinds, weights
from tests.builder.networks import regressor, three_class_classifier


def test_summary_is_json_and_covers_the_training_setup() -> None:
    builder = regressor()
    builder.set_metadata(name="demo", author="mlspec", user_defined={"stage": "test"})
    builder.make_updatable(["bn", "out"])
    builder.set_loss("mean_squared_error", "out", weight=0.5)
    builder.add_loss("huber", "out", target="robust_true")
    params = AdamWParams(lr=0.01, batch=4)
    params.set_batch(4, [4, 8])
    builder.set_optimizer(params)
    builder.set_epochs(3, (1, 20))
    builder.set_shuffle(True)
    builder.set_seed(7)
    builder.set_gradient_clipping(max_norm=1.0)
    builder.set_step_schedule(2, 0.5)
    summary = inspect_model(builder.spec)
    assert json.loads(json.dumps(summary)) == summary

    layers = {layer["name"]: layer for layer in summary["layers"]}
    assert layers["fc1"]["kind"] == "inner_product" and layers["fc1"]["output_shape"] == ["batch", 6]
    assert layers["fc1"]["parameter_count"] == 4 * 6 + 6
    assert layers["bn"]["updatable_tensors"] == ["gamma", "beta"] and layers["bn"]["parameter_count"] == 24
    assert not layers["act"]["is_updatable"] and layers["act"]["parameter_count"] == 0
    assert summary["parameter_count"] == sum(
        kinds.parameter_count(layer) for layer in builder.spec.network.layers
    )
    assert summary["metadata"]["user_defined"] == {"stage": "test"} and summary["name"] == "demo"

    assert [(loss["kind"], loss["weight"]) for loss in summary["losses"]] == [
        ("mean_squared_error", 0.5),
        ("huber", 1.0),
    ]
    assert summary["losses"][1]["delta"] == 1.0
    optimizer = summary["optimizer"]
    assert optimizer["kind"] == "adamw"
    assert optimizer["hyperparameters"]["mini_batch_size"] == {"default": 4, "set": [4, 8]}
    assert optimizer["hyperparameters"]["weight_decay"]["default"] == 0.01
    assert summary["epochs"] == {"default": 3, "range": [1, 20]}
    assert summary["shuffle"] is True and summary["seed"]["default"] == 7
    assert summary["clipping"] == {"kind": "max_norm", "name": "clip_norm", "default": 1.0, "set": [1.0]}
    assert summary["lr_schedule"] == {"kind": "step", "step_epochs": 2, "gamma": 0.5}
    assert [(f["name"], f["shape"]) for f in summary["training_inputs"]] == [
        ("x", ["batch", 4]),
        ("out_true", ["batch", 2]),
        ("robust_true", ["batch", 2]),
    ]
    assert summary["classifier"] is None


def test_classifier_summary_and_untrained_spec() -> None:
    summary = inspect_model(three_class_classifier().spec)
    assert json.loads(json.dumps(summary)) == summary
    assert summary["classifier"] == {
        "class_labels": ["rock", "paper", "scissors"],
        "predicted_feature_name": "label",
        "predicted_probabilities_name": "probabilities",
    }
    assert [(f["name"], f["type"], f["dtype"]) for f in summary["outputs"]] == [
        ("probabilities", "tensor", "float32"),
        ("label", "string", "string"),
    ]
    assert summary["inputs"][0]["shape"] == ["batch", 16]
    assert summary["losses"] == [] and summary["optimizer"] is None and summary["epochs"] is None
    assert summary["is_updatable"] is False and summary["fp16_layers"] == []


def test_fp16_layers_lists_every_half_precision_layer() -> None:
    builder = NetworkBuilder()
    builder.add_input("x", (3,))
    builder.add_inner_product("a", "x", 3)
    builder.add_inner_product("b", "a", 3, weights=np.eye(3, dtype=np.float16))
    builder.add_inner_product("c", "b", 3)
    builder.add_inner_product("d", "c", 2, weights=np.ones((2, 3), np.float16))
    summary = inspect_model(builder.spec)
    assert summary["fp16_layers"] == ["b", "d"]
    assert summary["layers"][1]["tensor_dtypes"] == {"weights": "float16", "bias": "float32"}
    assert weights.to_numpy(builder.spec.network.layers[3].inner_product.weights).dtype == np.float16


def test_schedule_fields_are_shown_even_at_zero() -> None:
    builder = three_class_classifier()
    builder.set_cosine_schedule()
    assert inspect_model(builder.spec)["lr_schedule"] == {"kind": "cosine", "min_lr": 0.0}


def test_unset_run_settings_show_what_training_will_use() -> None:
    """A spec that omits epochs, shuffle or an optimizer field shows the converter's fixed value."""
    from mlspec.convert.optimizers import plan_optimizer  # noqa: PLC0415 (test reaches up a layer)

    spec = three_class_classifier().spec
    builder = NetworkBuilder(spec)
    builder.make_updatable([spec.network.layers[-2].name])
    builder.set_loss("categorical_cross_entropy", spec.classifier.predicted_probabilities_name)
    builder.set_optimizer(AdamWParams(lr=0.01, batch=4))
    for field in ("epochs", "shuffle", "seed"):
        spec.update_parameters.ClearField(field)
    spec.update_parameters.optimizer.adamw.ClearField("weight_decay")
    summary = inspect_model(spec)
    plan = plan_optimizer(spec).hyperparameters
    assert summary["epochs"] == {"default": plan["epochs"].default, "set": plan["epochs"].set, "unset": True}
    assert summary["seed"]["default"] == plan["seed"].default
    assert summary["shuffle"] is plan["shuffle"].default is True
    decay = summary["optimizer"]["hyperparameters"]["weight_decay"]
    assert decay["unset"] and decay["default"] == plan["weight_decay"].default == 0.01
