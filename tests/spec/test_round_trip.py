"""Every layer kind and every update-parameter kind survives save -> load, binary and text."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest
from google.protobuf.message import Message
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlspec
from mlspec._proto import layers_pb2, model_pb2, parameters_pb2, training_pb2
from tests.support.specs import classifier

from .proto_strategies import filled

SUFFIXES = (".mlspec", ".pbtxt")
FAST = settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def round_trip(model: model_pb2.Model) -> None:
    model.spec_version = mlspec.SPEC_VERSION
    with tempfile.TemporaryDirectory() as folder:
        for suffix in SUFFIXES:
            path = Path(folder) / f"model{suffix}"
            mlspec.save(model, path)
            # The file format is under test here; sidecar weights have test_external_weights.py.
            loaded = mlspec.load(path, resolve_external=False)
            assert loaded == model, suffix
            assert loaded.SerializeToString(deterministic=True) == model.SerializeToString(deterministic=True)


def oneof_members(message_type: type[Message], oneof: str) -> list[str]:
    return [field.name for field in message_type.DESCRIPTOR.oneofs_by_name[oneof].fields]


LAYER_KINDS = oneof_members(layers_pb2.Layer, "kind")


def test_every_kind_is_covered() -> None:
    assert len(LAYER_KINDS) == 16 and "onnx_node" in LAYER_KINDS
    assert oneof_members(training_pb2.LossLayer, "kind") == [
        "categorical_cross_entropy",
        "mean_squared_error",
        "binary_cross_entropy",
        "l1",
        "huber",
    ]


@pytest.mark.parametrize("kind", LAYER_KINDS)
@FAST
@given(data=st.data())
def test_layer_kinds(kind: str, data: st.DataObject) -> None:
    model = model_pb2.Model()
    model.network.layers.append(data.draw(filled(layers_pb2.Layer, {"kind": kind})))
    round_trip(model)


@pytest.mark.parametrize("kind", oneof_members(training_pb2.LossLayer, "kind"))
@FAST
@given(data=st.data())
def test_loss_kinds(kind: str, data: st.DataObject) -> None:
    model = model_pb2.Model()
    model.update_parameters.loss_layers.append(data.draw(filled(training_pb2.LossLayer, {"kind": kind})))
    model.update_parameters.loss_layers.append(data.draw(filled(training_pb2.LossLayer, {"kind": kind})))
    round_trip(model)


@pytest.mark.parametrize(
    ("field", "oneof_owner", "kind"),
    [("optimizer", training_pb2.Optimizer, k) for k in oneof_members(training_pb2.Optimizer, "kind")]
    + [
        ("clipping", training_pb2.GradientClipping, k)
        for k in oneof_members(training_pb2.GradientClipping, "kind")
    ]
    + [
        ("lr_schedule", training_pb2.LearningRateSchedule, k)
        for k in oneof_members(training_pb2.LearningRateSchedule, "kind")
    ],
)
@FAST
@given(data=st.data())
def test_update_parameter_kinds(field: str, oneof_owner: type, kind: str, data: st.DataObject) -> None:
    model = model_pb2.Model()
    getattr(model.update_parameters, field).CopyFrom(data.draw(filled(oneof_owner, {"kind": kind})))
    round_trip(model)


@pytest.mark.parametrize("allowed", ["range", "set"])
@pytest.mark.parametrize("parameter", [parameters_pb2.DoubleParameter, parameters_pb2.Int64Parameter])
@FAST
@given(data=st.data())
def test_parameter_constraints(parameter: type, allowed: str, data: st.DataObject) -> None:
    model = model_pb2.Model()
    drawn = data.draw(filled(parameter, {"allowed": allowed}))
    target = model.update_parameters.optimizer.sgd
    (
        target.learning_rate if parameter is parameters_pb2.DoubleParameter else target.mini_batch_size
    ).CopyFrom(drawn)
    round_trip(model)


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(filled(model_pb2.Model))
def test_whole_models(model: model_pb2.Model) -> None:
    round_trip(model)


def test_a_realistic_spec() -> None:
    round_trip(classifier())
