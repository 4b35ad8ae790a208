"""Hyperparameter rules: every constraint is well formed and every value it allows is sensible.

Core ML checked a default only when the builder set it, and never checked the values a later
user could choose; mlspec checks the default and every allowed value (range ends, set members)
against the parameter's meaning, so a runtime override can never land on a nonsensical value.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from mlspec._proto import parameters_pb2, training_pb2
from mlspec.spec.errors import Problem
from mlspec.spec.hyper import NumericParameter, constraint_problems

_BASE = "update_parameters"


@dataclass(frozen=True)
class Bound:
    """What a value must satisfy, worded for the message."""

    test: Callable[[float], bool]
    text: str


AT_LEAST_0 = Bound(lambda v: v >= 0, ">= 0")
ABOVE_0 = Bound(lambda v: v > 0, "> 0")
UNIT_CLOSED = Bound(lambda v: 0 <= v <= 1, "in [0, 1]")
UNIT_HALF_OPEN = Bound(lambda v: 0 <= v < 1, "in [0, 1)")

# Optimizer fields: (bound, required). Optional fields absent from the spec use fixed defaults.
_OPTIMIZER_FIELDS: dict[str, tuple[Bound, bool]] = {
    "learning_rate": (AT_LEAST_0, True),
    "mini_batch_size": (ABOVE_0, True),
    "momentum": (UNIT_CLOSED, False),
    "beta1": (UNIT_HALF_OPEN, False),
    "beta2": (UNIT_HALF_OPEN, False),
    "eps": (ABOVE_0, False),
    "weight_decay": (AT_LEAST_0, False),
}


def check(params: training_pb2.UpdateParameters, *, required: bool) -> list[Problem]:
    """`required`: the model is updatable, so the optimizer's rate and batch size and epochs must be set."""
    problems = _optimizer(params.optimizer, required=required)
    problems += _parameter(
        f"{_BASE}.epochs", params.epochs, ABOVE_0, present=params.HasField("epochs"), required=required
    )
    if params.HasField("proximal_mu"):
        problems += _parameter(
            f"{_BASE}.proximal_mu", params.proximal_mu, AT_LEAST_0, present=True, required=False
        )
    if params.HasField("seed"):
        problems += _parameter(f"{_BASE}.seed", params.seed, AT_LEAST_0, present=True, required=False)
    problems += _clipping(params)
    problems += _schedule(params)
    return problems


def _optimizer(optimizer: training_pb2.Optimizer, *, required: bool) -> list[Problem]:
    kind = optimizer.WhichOneof("kind")
    if kind is None:
        return []  # a missing optimizer in an updatable model is an updatable-rule problem
    message = getattr(optimizer, kind)
    problems: list[Problem] = []
    for field in message.DESCRIPTOR.fields:
        rule = _OPTIMIZER_FIELDS.get(field.name)
        if rule is None:
            continue  # bool parameters (nesterov) hold any value
        bound, needed = rule
        where = f"{_BASE}.optimizer.{kind}.{field.name}"
        present = message.HasField(field.name)
        problems += _parameter(
            where, getattr(message, field.name), bound, present=present, required=needed and required
        )
    return problems


def _parameter(
    where: str, param: NumericParameter, bound: Bound, *, present: bool, required: bool
) -> list[Problem]:
    if not present:
        if required:
            return [Problem(where, "is not set", "give a default and a range or set of allowed values")]
        return []
    name = where.rsplit(".", 1)[-1]
    problems = [Problem(where, text, _constraint_fix(param)) for text in constraint_problems(name, param)]
    which = param.WhichOneof("allowed")
    values: list[tuple[str, float]] = [("default", param.default_value)]
    if which == "range":
        values += [("range min", param.range.min), ("range max", param.range.max)]
    elif which == "set":
        values += [("allowed value", value) for value in param.set.values]
    bad = [
        f"{label} {value:g}" for label, value in values if not (math.isfinite(value) and bound.test(value))
    ]
    if bad:
        message = f"{name} must be {bound.text}; got {', '.join(bad)}"
        problems.append(Problem(where, message, f"keep every {name} value {bound.text}"))
    return problems


def _constraint_fix(param: NumericParameter) -> str:
    which = param.WhichOneof("allowed")
    if which is None:
        return "declare a range [min, max] or a set of allowed values"
    if which == "range" and param.range.min > param.range.max:
        return "swap min and max"
    if which == "set" and not param.set.values:
        return "list the allowed values, the default among them"
    if which == "set" and len(set(param.set.values)) != len(param.set.values):
        return "list each allowed value once"
    return "move the default inside the allowed values, or widen them"


def _clipping(params: training_pb2.UpdateParameters) -> list[Problem]:
    if not params.HasField("clipping"):
        return []
    kind = params.clipping.WhichOneof("kind")
    where = f"{_BASE}.clipping"
    if kind is None:
        return [
            Problem(where, "is present but sets neither max_norm nor max_value", "set one, or clear clipping")
        ]
    param: parameters_pb2.DoubleParameter = getattr(params.clipping, kind)
    return _parameter(f"{where}.{kind}", param, ABOVE_0, present=True, required=False)


def _schedule(params: training_pb2.UpdateParameters) -> list[Problem]:
    if not params.HasField("lr_schedule"):
        return []
    schedule = params.lr_schedule
    kind = schedule.WhichOneof("kind")
    where = f"{_BASE}.lr_schedule"
    if kind is None:
        return [
            Problem(
                where, "is present but sets no schedule", "set step, cosine or linear_warmup, or clear it"
            )
        ]
    checks: list[tuple[str, float, Bound]] = []
    if kind == "step":
        checks = [
            ("step_epochs", schedule.step.step_epochs, ABOVE_0),
            ("gamma", schedule.step.gamma, ABOVE_0),
        ]
    elif kind == "cosine":
        checks = [("min_lr", schedule.cosine.min_lr, AT_LEAST_0)]
    elif kind == "linear_warmup":
        warmup = schedule.linear_warmup
        checks = [
            ("warmup_steps", warmup.warmup_steps, ABOVE_0),
            ("start_factor", warmup.start_factor, Bound(lambda v: 0 < v <= 1, "in (0, 1]")),
        ]
    return [
        Problem(
            f"{where}.{kind}.{field}", f"{field} {value:g} must be {bound.text}", f"set {field} {bound.text}"
        )
        for field, value, bound in checks
        if not (math.isfinite(value) and bound.test(value))
    ]
