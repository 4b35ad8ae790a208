"""Optimizer parameter objects: each hyperparameter is a default plus the values a user may pick.

They mirror coremltools' SgdParams/AdamParams, with one fix: a default outside its own allowed
range or set (or outside what the setting can mean, such as a negative learning rate) is refused
when the object is built or changed, not discovered on the device. The checks are the
validator's own, so the builder and ``mlspec validate`` can never disagree.

Allowed values: a ``(low, high)`` tuple is a closed range; a list or set is a set of values.
When none are given:

- ``mini_batch_size`` (``batch``) allows only its default, as in Core ML;
- ``learning_rate``, ``momentum`` and ``weight_decay`` allow the range [0, 1], as in Core ML;
- ``beta1`` and ``beta2`` allow [0, 0.99999] and ``eps`` allows [1e-12, 1]. Core ML says [0, 1]
  for all three, but a beta of 1 makes Adam's bias correction divide by zero and an eps of 0 can
  too, so mlspec's validator rejects those end points; these are the nearest safe ranges;
- ``nesterov`` is a plain bool default.

Epochs (allowed {default} unless given), shuffle and seed live on the builder, not here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import ClassVar

from mlspec._proto import parameters_pb2, training_pb2
from mlspec.spec import hyper
from mlspec.spec.errors import MlspecError
from mlspec.spec.validate import hyperparameters

Allowed = tuple[float, float] | Iterable[float] | None
UNIT_RANGE = (0.0, 1.0)
DEFAULT_RANGES: dict[str, tuple[float, float]] = {
    "beta1": (0.0, 0.99999),
    "beta2": (0.0, 0.99999),
    "eps": (1e-12, 1.0),
}


def normalise_allowed(allowed: tuple[float, float] | Iterable[float]) -> tuple[float, float] | list[float]:
    """A 2-tuple stays a range; any other collection becomes a sorted set."""
    if isinstance(allowed, tuple) and len(allowed) == 2:
        return allowed
    return sorted(allowed)


def double_param(name: str, default: float, allowed: Allowed) -> parameters_pb2.DoubleParameter:
    chosen = DEFAULT_RANGES.get(name, UNIT_RANGE) if allowed is None else normalise_allowed(allowed)
    return hyper.double_parameter(default, chosen)


def int_param(default: int, allowed: Allowed) -> parameters_pb2.Int64Parameter:
    """Allows only the default unless told otherwise (Core ML's mini-batch rule)."""
    return hyper.int_parameter(default, [default] if allowed is None else normalise_allowed(allowed))


def raise_on_problems(owner: str, update: training_pb2.UpdateParameters) -> None:
    problems = hyperparameters.check(update, required=False)
    if problems:
        listed = "; ".join(_named(p.where.rsplit(".", 1)[-1], p.message) for p in problems)
        raise MlspecError(f"{owner}: {listed}")


def _named(field: str, message: str) -> str:
    return message if field in message else f"{field}: {message}"


class _OptimizerParams:
    """Shared learning rate, batch size and weight decay; subclasses add their own settings."""

    KIND: ClassVar[str]

    def __init__(self, lr: float, batch: int, weight_decay: float) -> None:
        self.doubles: dict[str, parameters_pb2.DoubleParameter] = {}
        self.ints: dict[str, parameters_pb2.Int64Parameter] = {}
        self.set_lr(lr)
        self.set_batch(batch)
        self.set_weight_decay(weight_decay)

    def _checked(self, name: str, param: hyper.NumericParameter) -> None:
        optimizer = training_pb2.Optimizer()
        getattr(getattr(optimizer, self.KIND), name).CopyFrom(param)
        raise_on_problems(type(self).__name__, training_pb2.UpdateParameters(optimizer=optimizer))

    def _set_double(self, name: str, default: float, allowed: Allowed) -> None:
        param = double_param(name, default, allowed)
        self._checked(name, param)
        self.doubles[name] = param

    def set_lr(self, default: float, allowed: Allowed = None) -> None:
        self._set_double("learning_rate", default, allowed)

    def set_batch(self, default: int, allowed: Allowed = None) -> None:
        param = int_param(default, allowed)
        self._checked("mini_batch_size", param)
        self.ints["mini_batch_size"] = param

    def set_weight_decay(self, default: float, allowed: Allowed = None) -> None:
        self._set_double("weight_decay", default, allowed)

    def to_proto(self) -> training_pb2.Optimizer:
        """The Optimizer message to store in the spec's update parameters."""
        optimizer = training_pb2.Optimizer()
        message = getattr(optimizer, self.KIND)
        for name, param in [*self.doubles.items(), *self.ints.items()]:
            getattr(message, name).CopyFrom(param)
        return optimizer


class SgdParams(_OptimizerParams):
    """SGD with PyTorch's torch.optim.SGD semantics (momentum, nesterov, L2 weight decay)."""

    KIND = "sgd"

    def __init__(
        self,
        lr: float = 0.01,
        batch: int = 8,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(lr, batch, weight_decay)
        self.set_momentum(momentum)
        self.nesterov = bool(nesterov)

    def set_momentum(self, default: float, allowed: Allowed = None) -> None:
        self._set_double("momentum", default, allowed)

    def set_nesterov(self, default: bool) -> None:
        self.nesterov = bool(default)

    def to_proto(self) -> training_pb2.Optimizer:
        optimizer = super().to_proto()
        optimizer.sgd.nesterov.default_value = self.nesterov
        return optimizer


class AdamParams(_OptimizerParams):
    """Adam with L2 weight decay added to the gradient (torch.optim.Adam)."""

    KIND = "adam"

    def __init__(
        self,
        lr: float = 0.001,
        batch: int = 8,
        *,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(lr, batch, weight_decay)
        self.set_beta1(beta1)
        self.set_beta2(beta2)
        self.set_eps(eps)

    def set_beta1(self, default: float, allowed: Allowed = None) -> None:
        self._set_double("beta1", default, allowed)

    def set_beta2(self, default: float, allowed: Allowed = None) -> None:
        self._set_double("beta2", default, allowed)

    def set_eps(self, default: float, allowed: Allowed = None) -> None:
        self._set_double("eps", default, allowed)


class AdamWParams(AdamParams):
    """Adam with decoupled weight decay (torch.optim.AdamW); its default decay is PyTorch's 0.01."""

    KIND = "adamw"

    def __init__(
        self,
        lr: float = 0.001,
        batch: int = 8,
        *,
        beta1: float = 0.9,
        beta2: float = 0.999,
        eps: float = 1e-8,
        weight_decay: float = 0.01,
    ) -> None:
        super().__init__(lr, batch, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay)


OptimizerParams = SgdParams | AdamParams
