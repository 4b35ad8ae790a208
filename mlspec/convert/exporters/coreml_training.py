"""mlspec update parameters -> Core ML NetworkUpdateParameters, or the reasons they do not fit.

Core ML 3 (specification version 4) trains with one loss (cross-entropy on a softmax, or mean
squared error), SGD with momentum or Adam, epochs, shuffle and seed. Each hyperparameter keeps
its default and allowed values; Core ML's double parameters take a range only, so a set of
doubles fits only when it holds one value.

What Core ML cannot hold is reported, not silently lost. `Findings.refuse` records a setting
that would change training; `Findings.drop` a setting that may be left out when the caller
allows it (`drop_unsupported`), which is then listed in `Findings.dropped`. Settings whose every
allowed value means "off" (weight decay allowed in [0, 1] with default 0, nesterov off) are left
out and listed as narrowed, since a Core ML user could never have picked them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlspec._proto import parameters_pb2, training_pb2
from mlspec.spec.defaults import unset_default
from mlspec.spec.errors import loss_ref

_OPTIMIZER = "update_parameters.optimizer"


@dataclass
class Findings:
    """Problems (where, why) that stop the export, and what was left out on the way."""

    drop_unsupported: bool = False
    problems: list[tuple[str, str]] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    def refuse(self, where: str, why: str) -> None:
        self.problems.append((where, why))

    def drop(self, where: str, why: str) -> None:
        if self.drop_unsupported:
            self.dropped.append(f"{where}: {why}; dropped")
        else:
            self.refuse(where, f"{why} (--drop-unsupported leaves it out)")

    def narrow(self, where: str, why: str) -> None:
        self.dropped.append(f"{where}: {why}")


def _double(source: parameters_pb2.DoubleParameter, target: Any, where: str, findings: Findings) -> None:
    target.defaultValue = source.default_value
    which = source.WhichOneof("allowed")
    if which == "range":
        target.range.minValue, target.range.maxValue = source.range.min, source.range.max
    elif which == "set" and len(source.set.values) == 1:
        target.range.minValue = target.range.maxValue = source.set.values[0]
    elif which == "set":
        values = ", ".join(f"{v:g}" for v in source.set.values)
        findings.refuse(where, f"allows the set {{{values}}}; Core ML takes a range of doubles")


def int_parameter(source: parameters_pb2.Int64Parameter, target: Any) -> None:
    target.defaultValue = source.default_value
    if source.WhichOneof("allowed") == "range":
        target.range.minValue, target.range.maxValue = source.range.min, source.range.max
    else:
        target.set.values.extend(source.set.values)


def _off_by_default(body: Any, name: str, where: str, findings: Findings, words: str) -> None:
    """A setting Core ML lacks: fine when it is off by default, else refused."""
    if not body.HasField(name):
        return
    default = getattr(body, name).default_value
    if default:
        findings.refuse(f"{where}.{name}", f"{words} (default {default:g}); Core ML has none")
    else:
        findings.narrow(f"{where}.{name}", f"Core ML has no {words}; the model keeps the default, off")


def _sgd(source: training_pb2.SgdOptimizer, target: Any, findings: Findings) -> None:
    where = f"{_OPTIMIZER}.sgd"
    _double(source.learning_rate, target.learningRate, f"{where}.learning_rate", findings)
    int_parameter(source.mini_batch_size, target.miniBatchSize)
    if source.HasField("momentum"):
        _double(source.momentum, target.momentum, f"{where}.momentum", findings)
    _off_by_default(source, "nesterov", where, findings, "nesterov momentum")
    _off_by_default(source, "weight_decay", where, findings, "weight decay")


def _adam(source: training_pb2.AdamOptimizer, target: Any, where: str, findings: Findings) -> None:
    _double(source.learning_rate, target.learningRate, f"{where}.learning_rate", findings)
    int_parameter(source.mini_batch_size, target.miniBatchSize)
    for ours, theirs in (("beta1", "beta1"), ("beta2", "beta2"), ("eps", "eps")):
        if source.HasField(ours):
            _double(getattr(source, ours), getattr(target, theirs), f"{where}.{ours}", findings)
        else:  # Core ML requires every Adam setting: write the value training would use
            value = float(unset_default(ours))
            getattr(target, theirs).defaultValue = value
            getattr(target, theirs).range.minValue = getattr(target, theirs).range.maxValue = value


def _optimizer(source: training_pb2.Optimizer, target: Any, findings: Findings) -> None:
    which = source.WhichOneof("kind")
    if which == "sgd":
        _sgd(source.sgd, target.sgdOptimizer, findings)
    elif which == "adam":
        _adam(source.adam, target.adamOptimizer, f"{_OPTIMIZER}.adam", findings)
        _off_by_default(source.adam, "weight_decay", f"{_OPTIMIZER}.adam", findings, "weight decay")
    elif which == "adamw":
        where = f"{_OPTIMIZER}.adamw"
        decay = source.adamw.weight_decay
        default = (
            decay.default_value
            if source.adamw.HasField("weight_decay")
            else unset_default("weight_decay", "adamw")
        )
        if default:
            findings.refuse(
                f"{where}.weight_decay",
                f"AdamW with decoupled weight decay {default:g}; Core ML has Adam only",
            )
            return
        findings.drop(where, "AdamW (its decay defaults to 0, so it trains as Adam)")
        _adam(source.adamw, target.adamOptimizer, where, findings)
    else:
        findings.refuse(_OPTIMIZER, "no optimizer is set")


def _loss(loss: training_pb2.LossLayer, target: Any, findings: Findings, softmax_outputs: set[str]) -> None:
    where = loss_ref(loss.name)
    if loss.HasField("weight") and loss.weight != 1.0:
        findings.refuse(f"{where}.weight", f"weight {loss.weight:g}; Core ML's single loss has no weight")
    which = loss.WhichOneof("kind")
    if which == "categorical_cross_entropy":
        if loss.categorical_cross_entropy.from_logits or loss.input not in softmax_outputs:
            findings.refuse(where, "cross-entropy on logits; Core ML's reads a softmax output")
            return
        body = target.categoricalCrossEntropyLossLayer
    elif which == "mean_squared_error":
        body = target.meanSquaredErrorLossLayer
    else:
        findings.refuse(where, f"a {which} loss; Core ML trains with cross-entropy or mean squared error")
        return
    target.name = loss.name
    body.input, body.target = loss.input, loss.target


def update_parameters(
    source: training_pb2.UpdateParameters, target: Any, findings: Findings, softmax_outputs: set[str]
) -> None:
    """Fill Core ML's NetworkUpdateParameters `target` from `source`, recording what does not fit."""
    losses = list(source.loss_layers)
    if len(losses) != 1:
        names = ", ".join(loss.name for loss in losses) or "none"
        findings.refuse(
            "update_parameters.loss_layers", f"{len(losses)} losses ({names}); Core ML trains with one"
        )
    for loss in losses[:1]:
        _loss(loss, target.lossLayers.add(), findings, softmax_outputs)
    _optimizer(source.optimizer, target.optimizer, findings)
    _off_by_default(source, "proximal_mu", "update_parameters", findings, "FedProx's proximal term")
    if source.HasField("clipping"):
        findings.drop("update_parameters.clipping", "gradient clipping; Core ML has none")
    if source.HasField("lr_schedule"):
        findings.drop("update_parameters.lr_schedule", "a learning-rate schedule; Core ML has none")
    if source.HasField("augmentation"):
        findings.drop(
            "update_parameters.augmentation", "image augmentation; Core ML trains on images as given"
        )
    if not source.HasField("epochs"):
        findings.refuse("update_parameters.epochs", "not set; Core ML requires epochs")
    else:
        int_parameter(source.epochs, target.epochs)
    if source.HasField("shuffle"):
        target.shuffle.defaultValue = source.shuffle.default_value
    if source.HasField("seed"):
        int_parameter(source.seed, target.seed)
