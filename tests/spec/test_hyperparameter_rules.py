"""Hyperparameter rules: constraints well formed, defaults inside, every allowed value sensible."""

from __future__ import annotations

import pytest

from mlspec._proto import model_pb2
from mlspec.spec.hyper import Allowed, double_parameter, int_parameter
from mlspec.spec.validate import find_problems
from tests.support.specs import classifier

from .helpers import assert_problem

SGD = "update_parameters.optimizer.sgd"
ADAM = "update_parameters.optimizer.adam"


def adam_model(kind: str = "adam") -> model_pb2.Model:
    model = classifier()
    model.update_parameters.ClearField("optimizer")
    adam = getattr(model.update_parameters.optimizer, kind)
    adam.learning_rate.CopyFrom(double_parameter(1e-3, (0.0, 0.1)))
    adam.mini_batch_size.CopyFrom(int_parameter(16, [8, 16, 32]))
    adam.beta1.CopyFrom(double_parameter(0.9, (0.5, 0.99)))
    adam.beta2.CopyFrom(double_parameter(0.999, [0.99, 0.999]))
    adam.eps.CopyFrom(double_parameter(1e-8, (1e-10, 1e-6)))
    adam.weight_decay.CopyFrom(double_parameter(0.01, (0.0, 0.1)))
    return model


@pytest.mark.parametrize("kind", ["adam", "adamw"])
def test_full_adam_is_valid(kind: str) -> None:
    assert find_problems(adam_model(kind)) == []


def test_default_outside_range() -> None:
    model = classifier()
    model.update_parameters.optimizer.sgd.learning_rate.CopyFrom(double_parameter(2.0, (0.0, 1.0)))
    problem = assert_problem(model, f"{SGD}.learning_rate", "learning_rate=2.0 is outside", "[0.0, 1.0]")
    assert "default" in problem.message


def test_default_outside_set() -> None:
    model = classifier()
    model.update_parameters.optimizer.sgd.mini_batch_size.CopyFrom(int_parameter(3, [1, 2, 8, 16]))
    assert_problem(
        model, f"{SGD}.mini_batch_size", "mini_batch_size=3 is not in the allowed set {1, 2, 8, 16}"
    )


def test_range_min_above_max() -> None:
    model = classifier()
    model.update_parameters.epochs.CopyFrom(int_parameter(5, (10, 1)))
    problem = assert_problem(model, "update_parameters.epochs", "min 10 is greater than max 1")
    assert "swap" in problem.fix


def test_empty_set() -> None:
    model = classifier()
    model.update_parameters.epochs.CopyFrom(int_parameter(5, []))
    assert_problem(model, "update_parameters.epochs", "set is empty")


def test_duplicate_set_values() -> None:
    model = classifier()
    model.update_parameters.optimizer.sgd.mini_batch_size.CopyFrom(int_parameter(8, [8, 8, 16]))
    assert_problem(model, f"{SGD}.mini_batch_size", "duplicate")


def test_no_range_nor_set() -> None:
    model = classifier()
    model.update_parameters.optimizer.sgd.learning_rate.ClearField("range")
    assert_problem(model, f"{SGD}.learning_rate", "no allowed values")


@pytest.mark.parametrize(
    ("field", "allowed", "label"),
    [("mini_batch_size", [0, 8], "allowed value 0"), ("mini_batch_size", (-4, 8), "range min -4")],
)
def test_batch_size_positive_everywhere(field: str, allowed: Allowed, label: str) -> None:
    model = classifier()
    param = int_parameter(8, allowed)
    getattr(model.update_parameters.optimizer.sgd, field).CopyFrom(param)
    assert_problem(model, f"{SGD}.{field}", f"must be > 0; got {label}")


@pytest.mark.parametrize("epochs", [0, -3])
def test_epochs_positive(epochs: int) -> None:
    model = classifier()
    model.update_parameters.epochs.CopyFrom(int_parameter(epochs, [epochs]))
    assert_problem(
        model, "update_parameters.epochs", f"epochs must be > 0; got default {epochs}, allowed value {epochs}"
    )


def test_required_parameters_of_an_updatable_model() -> None:
    model = classifier()
    model.update_parameters.ClearField("epochs")
    model.update_parameters.optimizer.sgd.ClearField("mini_batch_size")
    wheres = sorted(p.where for p in find_problems(model))
    assert wheres == ["update_parameters.epochs", f"{SGD}.mini_batch_size"]


@pytest.mark.parametrize(
    ("field", "param", "fragment"),
    [
        ("beta1", double_parameter(0.9, (0.5, 1.0)), "beta1 must be in [0, 1); got range max 1"),
        ("beta2", double_parameter(0.999, [0.999, -0.1]), "got allowed value -0.1"),
        ("eps", double_parameter(0.0, (0.0, 1e-6)), "eps must be > 0; got default 0, range min 0"),
        ("weight_decay", double_parameter(0.0, (-0.1, 0.1)), "weight_decay must be >= 0; got range min -0.1"),
        ("learning_rate", double_parameter(0.01, (-1.0, 1.0)), "got range min -1"),
    ],
)
def test_adam_bounds(field: str, param: object, fragment: str) -> None:
    model = adam_model()
    getattr(model.update_parameters.optimizer.adam, field).CopyFrom(param)
    assert_problem(model, f"{ADAM}.{field}", fragment)


def test_sgd_momentum_bounds() -> None:
    model = classifier()
    model.update_parameters.optimizer.sgd.momentum.CopyFrom(double_parameter(0.9, (0.0, 1.5)))
    assert_problem(model, f"{SGD}.momentum", "momentum must be in [0, 1]; got range max 1.5")


@pytest.mark.parametrize("kind", ["max_norm", "max_value"])
def test_clipping_positive(kind: str) -> None:
    model = classifier()
    getattr(model.update_parameters.clipping, kind).CopyFrom(double_parameter(1.0, [1.0, 0.0]))
    assert_problem(model, f"update_parameters.clipping.{kind}", "must be > 0; got allowed value 0")


def test_clipping_without_kind() -> None:
    model = classifier()
    model.update_parameters.clipping.SetInParent()
    assert_problem(model, "update_parameters.clipping", "neither max_norm nor max_value")


def test_seed_non_negative() -> None:
    model = classifier()
    model.update_parameters.seed.CopyFrom(int_parameter(-1, [-1]))
    assert_problem(model, "update_parameters.seed", "seed must be >= 0; got default -1, allowed value -1")


@pytest.mark.parametrize(
    ("kind", "field", "value"),
    [
        ("step", "step_epochs", 0),
        ("step", "gamma", 0.0),
        ("cosine", "min_lr", -1.0),
        ("linear_warmup", "warmup_steps", 0),
        ("linear_warmup", "start_factor", 1.5),
    ],
)
def test_schedules(kind: str, field: str, value: float) -> None:
    model = classifier()
    schedule = getattr(model.update_parameters.lr_schedule, kind)
    schedule.SetInParent()
    if kind == "step":
        schedule.step_epochs, schedule.gamma = 2, 0.5
    if kind == "linear_warmup":
        schedule.warmup_steps, schedule.start_factor = 10, 0.1
    assert find_problems(model) == []
    setattr(schedule, field, value)
    assert_problem(model, f"update_parameters.lr_schedule.{kind}.{field}", f"{field} {value:g}")
