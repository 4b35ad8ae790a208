"""Training hyperparameters: what the spec declares, and the caller's overrides checked against it.

Core ML checks overrides only when the task starts and never checks the spec's own defaults;
here every override is checked before any work, all problems are reported together, and the
wording is the one `mlspec.spec.hyper.violation` gives everywhere else, so a user sees the same
sentence from the builder, the validator, the CLI and the trainer.

The declared table comes from the converter's own reading of the spec (`plan_optimizer`) or
from the manifest it wrote, so a trainer built from a spec and one built from its artifacts
accept and refuse exactly the same values. A setting the spec leaves out is declared there as
fixed to its default, so an override of it is refused naming that one allowed value.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from numbers import Integral, Real

import numpy as np

from mlspec._proto import model_pb2
from mlspec.convert.manifest import Hyperparameter, Manifest
from mlspec.convert.optimizers import plan_optimizer
from mlspec.spec.defaults import unset_default
from mlspec.spec.errors import MlspecError

Value = float | int | bool

ALIASES: dict[str, str] = {"lr": "learning_rate", "batch_size": "mini_batch_size"}
"""Short names accepted as override keys; they mean exactly the canonical name."""

ALL_NAMES: tuple[str, ...] = (
    "learning_rate",
    "mini_batch_size",
    "epochs",
    "shuffle",
    "seed",
    "momentum",
    "nesterov",
    "beta1",
    "beta2",
    "eps",
    "weight_decay",
    "clip_norm",
    "clip_value",
    "proximal_mu",
)
# Settings that live in the optimizer (baked into optimizer_model.onnx or the training graph);
# the session needs to hear about them only when they differ from what the artifacts hold.
_OPTIMIZER_NAMES = (
    "momentum",
    "nesterov",
    "beta1",
    "beta2",
    "eps",
    "weight_decay",
    "clip_norm",
    "clip_value",
    "proximal_mu",
)


class HyperparameterError(MlspecError):
    """An override (or a mid-training change) broke the spec's declared constraints."""


@dataclass(frozen=True)
class Hyperparameters:
    """The settings of one training run after overrides, each already checked."""

    optimizer: str
    learning_rate: float
    mini_batch_size: int
    epochs: int
    shuffle: bool
    seed: int
    # Settings the run's optimizer does not use keep the values a spec that omits them gets.
    momentum: float = float(unset_default("momentum"))
    nesterov: bool = bool(unset_default("nesterov"))
    beta1: float = float(unset_default("beta1"))
    beta2: float = float(unset_default("beta2"))
    eps: float = float(unset_default("eps"))
    weight_decay: float = float(unset_default("weight_decay"))
    clip_norm: float | None = None
    clip_value: float | None = None
    proximal_mu: float = float(unset_default("proximal_mu"))

    def as_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class HyperparameterTable:
    """The optimizer kind and each hyperparameter the run may set, with its constraint."""

    optimizer: str
    declared: Mapping[str, Hyperparameter]

    def resolve(
        self,
        overrides: Mapping[str, object],
        *,
        source: str = "spec",
        wording: Mapping[str, tuple[str, str]] | None = None,
    ) -> Hyperparameters:
        """Apply overrides to the defaults, refusing every bad key or value at once.

        `wording` maps a name to how the caller's user spells it and how to widen its allowed
        values (the CLI: "--batch-size", "make-updatable --batch-sizes"), for the refusals.
        """
        problems: list[str] = []
        values: dict[str, Value] = {name: entry.default for name, entry in self.declared.items()}
        for key, raw in overrides.items():
            name = ALIASES.get(key, key)
            if name not in self.declared:
                problems.append(self._not_applicable(key, name))
                continue
            shown, widen = (wording or {}).get(name, (name, ""))
            value, problem = check_value(shown, self.declared[name], raw)
            if problem:
                problems.append(f"{problem}; widen it with {widen}" if widen else problem)
            else:
                values[name] = value
        if len(problems) == 1:
            raise HyperparameterError(f"{source}: {problems[0]}")
        if problems:
            listed = "".join(f"\n  - {problem}" for problem in problems)
            raise HyperparameterError(f"{source}: {len(problems)} overrides refused:{listed}")
        known = {name: value for name, value in values.items() if name in ALL_NAMES}
        return Hyperparameters(optimizer=self.optimizer, **known)  # type: ignore[arg-type]

    def optimizer_overrides(self, params: Hyperparameters) -> dict[str, Value]:
        """Optimizer settings that differ from the artifacts' defaults, for the session to apply."""
        result: dict[str, Value] = {}
        for name in _OPTIMIZER_NAMES:
            entry = self.declared.get(name)
            value = getattr(params, name)
            if entry is not None and value is not None and value != entry.default:
                result[name] = value
        return result

    def check_learning_rate(self, value: object) -> float:
        checked, problem = check_value("learning_rate", self.declared["learning_rate"], value)
        if problem:
            raise HyperparameterError(problem)
        return float(checked)

    def _not_applicable(self, key: str, name: str) -> str:
        valid = ", ".join(self.declared)
        if name in ("clip_norm", "clip_value"):
            kind = "norm" if name == "clip_norm" else "value"
            reason = f"the spec declares no gradient clipping by {kind}"
            return f"{name} does not apply: {reason}; valid names: {valid}"
        if name in ALL_NAMES:
            return f"{name} does not apply to this model's {self.optimizer} optimizer; valid names: {valid}"
        aliases = ", ".join(f"{short} = {full}" for short, full in ALIASES.items())
        return f"unknown hyperparameter {key!r}; valid names: {valid} (aliases: {aliases})"


def check_value(name: str, entry: Hyperparameter, raw: object) -> tuple[Value, str | None]:
    """Coerce `raw` to the parameter's type and test it against the declared constraint."""
    if entry.type == "bool":
        if not isinstance(raw, bool | np.bool_):
            return entry.default, f"{name} must be true or false, got {raw!r}"
        return bool(raw), None
    if isinstance(raw, bool | np.bool_) or not isinstance(raw, Real):
        return entry.default, f"{name} must be a number, got {raw!r}"
    if entry.type == "int":
        if not isinstance(raw, Integral) and not float(raw).is_integer():
            return entry.default, f"{name} must be a whole number, got {raw!r}"
        value: Value = int(raw) if isinstance(raw, Integral) else int(float(raw))
    else:
        value = float(raw)
        if not math.isfinite(value):
            return entry.default, f"{name} must be finite, got {raw!r}"
    return value, entry.violation(name, value)


def table_from_spec(model: model_pb2.Model) -> HyperparameterTable:
    plan = plan_optimizer(model)
    return HyperparameterTable(plan.kind, plan.hyperparameters)


def table_from_manifest(manifest: Manifest) -> HyperparameterTable:
    return HyperparameterTable(manifest.optimizer.kind, manifest.hyperparameters)
