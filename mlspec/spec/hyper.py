"""Hyperparameter constraints: building them, describing them, and checking values against them.

The same wording is used by validation (a default outside its range), the builder (refusing a
bad default when a parameter object is built) and the runtime (refusing an override), so users
see one consistent message whichever path they take.
"""

from __future__ import annotations

from collections.abc import Sequence

from mlspec._proto import parameters_pb2

NumericParameter = parameters_pb2.DoubleParameter | parameters_pb2.Int64Parameter
Allowed = tuple[float, float] | Sequence[float] | None


def _fmt(value: float) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return repr(value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def describe_allowed(param: NumericParameter) -> str:
    which = param.WhichOneof("allowed")
    if which == "range":
        return f"the allowed range [{_fmt(param.range.min)}, {_fmt(param.range.max)}]"
    if which == "set":
        return "the allowed set {" + ", ".join(_fmt(v) for v in param.set.values) + "}"
    return "no allowed values (the spec declares neither a range nor a set)"


def violation(name: str, param: NumericParameter, value: float) -> str | None:
    """Return a message if `value` breaks the parameter's constraint, else None."""
    which = param.WhichOneof("allowed")
    if which == "range":
        if param.range.min <= value <= param.range.max:
            return None
        return f"{name}={_fmt(value)} is outside {describe_allowed(param)}"
    if which == "set":
        if value in param.set.values:
            return None
        return f"{name}={_fmt(value)} is not in {describe_allowed(param)}"
    return f"{name} has {describe_allowed(param)}"


def fill_allowed(param: NumericParameter, allowed: Allowed) -> None:
    """Set a range from a (low, high) tuple or a set from any other sequence."""
    param.ClearField("allowed")
    if allowed is None:
        return
    if isinstance(allowed, tuple) and len(allowed) == 2:
        low, high = allowed
        param.range.min = low
        param.range.max = high
        return
    values = list(allowed)
    param.set.SetInParent()
    param.set.values.extend(values)


def double_parameter(default: float, allowed: Allowed) -> parameters_pb2.DoubleParameter:
    param = parameters_pb2.DoubleParameter(default_value=float(default))
    fill_allowed(
        param, allowed if allowed is None or isinstance(allowed, tuple) else [float(v) for v in allowed]
    )
    return param


def int_parameter(default: int, allowed: Allowed) -> parameters_pb2.Int64Parameter:
    param = parameters_pb2.Int64Parameter(default_value=int(default))
    if isinstance(allowed, tuple) and len(allowed) == 2:
        fill_allowed(param, (int(allowed[0]), int(allowed[1])))
    else:
        fill_allowed(param, None if allowed is None else [int(v) for v in allowed])
    return param


def constraint_problems(name: str, param: NumericParameter) -> list[str]:
    """Problems with the constraint itself: empty or duplicate sets, inverted ranges, bad default."""
    which = param.WhichOneof("allowed")
    problems: list[str] = []
    if which is None:
        problems.append(f"{name} has no allowed values; declare a range or a set")
    elif which == "range" and param.range.min > param.range.max:
        problems.append(
            f"{name} range min {_fmt(param.range.min)} is greater than max {_fmt(param.range.max)}"
        )
    elif which == "set":
        values = list(param.set.values)
        if not values:
            problems.append(f"{name} allowed set is empty; list at least the default")
        elif len(set(values)) != len(values):
            problems.append(f"{name} allowed set has duplicate values")
    if not problems:
        message = violation(name, param, param.default_value)
        if message:
            problems.append(f"default {message}")
    return problems
