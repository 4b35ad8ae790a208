"""Making a spec trainable: updatable layers and tensors, losses, optimizer and run settings.

Every method here is a validating edit (see ``base``): it is refused, with the spec unchanged,
if it would add a validation problem.

Defaults when no allowed values are given (optimizer settings are documented in ``params``):

- ``epochs`` allows only its default, like Core ML's mini-batch size;
- ``seed`` allows the range [0, 2**32 - 1], so any 32-bit seed may be chosen at training time;
- gradient clipping (``clip_norm`` / ``clip_value``) allows only its default;
- ``shuffle`` is a bool default (True unless set).

Loss names live only in ``update_parameters.loss_layers``; they never become layers, and they
may not reuse a layer's name, so tools listing layers and losses never confuse the two.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Literal, get_args

import numpy as np

from mlspec._proto import model_pb2, training_pb2
from mlspec.builder.base import BuilderBase
from mlspec.builder.params import (
    Allowed,
    OptimizerParams,
    double_param,
    int_param,
    normalise_allowed,
    raise_on_problems,
)
from mlspec.builder.training_inputs import target_conflict
from mlspec.spec import graph, hyper, kinds, weights
from mlspec.spec.errors import SpecEditError, layer_ref, loss_ref
from mlspec.spec.io import SPEC_VERSION

LossKind = Literal["categorical_cross_entropy", "mean_squared_error", "binary_cross_entropy", "l1", "huber"]
LOSS_KINDS: tuple[str, ...] = get_args(LossKind)
SEED_RANGE = (0, 2**32 - 1)
BIAS_KINDS = ("inner_product", "convolution")
"""Kinds whose bias is optional (`has_bias`), so a zero bias can be added to them."""


def biasless(model: model_pb2.Model, layer_names: Iterable[str]) -> list[str]:
    """The named dense/convolution layers that have no bias.

    torch's dynamo exporter drops biases that are all zero; a head without one can only move its
    outputs through the features, which a fresh or random-weight network makes tiny, so such a
    head hardly trains. make_updatable(add_bias=True) gives these layers a zero bias.
    """
    names = set(layer_names)
    return [
        layer.name
        for layer in model.network.layers
        if layer.name in names
        and layer.WhichOneof("kind") in BIAS_KINDS
        and not getattr(layer, str(layer.WhichOneof("kind"))).has_bias
    ]


class TrainingSetup(BuilderBase):
    """The updatability half of NetworkBuilder."""

    def make_updatable(
        self, layer_names: Iterable[str], tensors: Sequence[str] | None = None, *, add_bias: bool = False
    ) -> None:
        """Flag layers (and their trainable tensors, or only `tensors`, e.g. ["weights"]) updatable.

        Batch norm trains gamma and beta; its running statistics stay unflagged but are still
        updated while training runs in training mode. With `add_bias`, a named dense/convolution
        layer without a bias first gets an all-zero one (the function is unchanged until training
        moves it), which then trains with the weights; see `biasless`.
        """
        names = list(layer_names)
        with self._edit(f"make updatable {_layer_list(names)}", validate=True):
            for name in biasless(self._model, names) if add_bias else []:
                self._add_zero_bias(name)
            for name in names:
                layer = self._layer(name)
                fields = self._trainable_fields(name, tensors)
                for field, tensor in kinds.trainable_tensors(layer):
                    if field in fields and tensor.dtype == weights.DataType.FLOAT16:
                        raise SpecEditError(
                            f"{layer_ref(name)}.{field} is float16; training needs float32 weights. "
                            "Store the layer's weights as float32 first"
                        )
                    if field in fields:
                        tensor.is_updatable = True
                layer.is_updatable = True
            self._model.is_updatable = True
            self._model.spec_version = max(self._model.spec_version, SPEC_VERSION)

    def _add_zero_bias(self, name: str) -> None:
        layer = self._layer(name)
        message = getattr(layer, str(layer.WhichOneof("kind")))
        message.has_bias = True
        weights.set_tensor(message.bias, np.zeros(message.output_channels, dtype=np.float32))

    def make_frozen(self, layer_names: Iterable[str], tensors: Sequence[str] | None = None) -> None:
        """Inverse of make_updatable: unflag the tensors (all by default), then idle layers."""
        names = list(layer_names)
        with self._edit(f"freeze {_layer_list(names)}", validate=True):
            for name in names:
                layer = self._layer(name)
                fields = self._trainable_fields(name, tensors)
                flagged = False
                for field, tensor in kinds.layer_tensors(layer):
                    if field in fields:
                        tensor.is_updatable = False
                    flagged = flagged or tensor.is_updatable
                layer.is_updatable = flagged
            self._model.is_updatable = any(layer.is_updatable for layer in self._model.network.layers)

    def _trainable_fields(self, name: str, tensors: Sequence[str] | None) -> set[str]:
        layer = self._layer(name)
        info = kinds.kind_info(layer)
        if not info.trainable:
            raise SpecEditError(
                f"{layer_ref(name)} ({info.name}) has nothing to train; "
                f"trainable kinds are: {', '.join(kinds.TRAINABLE_KINDS)}"
            )
        present = {field for field, _ in kinds.trainable_tensors(layer)}
        chosen = set(present if tensors is None else tensors)
        unknown = chosen - present
        if unknown:
            raise SpecEditError(
                f"{layer_ref(name)}: cannot train {', '.join(sorted(unknown))}; "
                f"its trainable tensors are: {', '.join(sorted(present))}"
            )
        return chosen

    def set_loss(
        self,
        kind: LossKind,
        input: str,
        *,
        target: str | None = None,
        name: str | None = None,
        weight: float | None = None,
        from_logits: bool = False,
        delta: float = 1.0,
    ) -> None:
        """Replace all losses with this one; the target training input is added for you."""
        self._put_loss(
            kind,
            input,
            target=target,
            name=name,
            weight=weight,
            from_logits=from_logits,
            delta=delta,
            replace=True,
        )

    def add_loss(
        self,
        kind: LossKind,
        input: str,
        *,
        target: str | None = None,
        name: str | None = None,
        weight: float | None = None,
        from_logits: bool = False,
        delta: float = 1.0,
    ) -> None:
        """Add a loss to those already set; the losses are summed, each scaled by its weight."""
        self._put_loss(
            kind,
            input,
            target=target,
            name=name,
            weight=weight,
            from_logits=from_logits,
            delta=delta,
            replace=False,
        )

    def rename_target(self, old: str, new: str) -> None:
        """Rename a loss target (and so its training input), keeping its description.

        Renaming a classifier's label target away from predicted_feature_name turns it into a
        class-index (int64) target, since only that name is fed as a label.
        """
        with self._edit(f'rename target "{old}" to "{new}"', validate=True):
            losses = [loss for loss in self._model.update_parameters.loss_layers if loss.target == old]
            if not losses:
                targets = sorted({loss.target for loss in self._model.update_parameters.loss_layers})
                raise SpecEditError(
                    f'no loss has target "{old}"; targets are: {", ".join(targets) or "(none)"}'
                )
            if new in self._known_tensors() or new in graph.training_input_names(self._model):
                raise SpecEditError(f'"{new}" already names a tensor or training input; pick another name')
            for loss in losses:
                loss.target = new
            for feature in self._model.description.training_inputs:
                if feature.name == old:
                    feature.name = new

    def clear_losses(self) -> None:
        with self._edit("clear losses", validate=True):
            del self._model.update_parameters.loss_layers[:]
            del self._model.description.training_inputs[:]

    def _put_loss(
        self,
        kind: str,
        tensor: str,
        *,
        target: str | None,
        name: str | None,
        weight: float | None,
        from_logits: bool,
        delta: float,
        replace: bool,
    ) -> None:
        with self._edit(f"{'set' if replace else 'add'} {kind} loss on {tensor!r}", validate=True):
            if kind not in LOSS_KINDS:
                raise SpecEditError(f"unknown loss kind {kind!r}; use one of {', '.join(LOSS_KINDS)}")
            losses = self._model.update_parameters.loss_layers
            if replace:
                del losses[:]
            loss = training_pb2.LossLayer(input=tensor, name=name or self._loss_name(kind))
            where = loss_ref(loss.name)
            self._check_loss_input(where, kind, tensor, from_logits)
            loss.target = target or self._default_target(kind, tensor)
            self._check_loss_names(where, kind, loss)
            if weight is not None:
                if weight <= 0:
                    raise SpecEditError(f"{where}.weight: {weight} must be positive")
                loss.weight = weight
            message = getattr(loss, kind)
            message.SetInParent()
            if kind in ("categorical_cross_entropy", "binary_cross_entropy"):
                message.from_logits = from_logits
            elif from_logits:
                raise SpecEditError(f"{where}: from_logits applies to cross-entropy losses only")
            if kind == "huber":
                if delta <= 0:
                    raise SpecEditError(f"{where}.delta: {delta} must be positive")
                message.delta = delta
            other = target_conflict(self._model, loss, self._shapes())
            if other is not None:
                raise SpecEditError(
                    f'{where}.target: "{loss.target}" is also the target of loss "{other}", which needs '
                    "another type; give each loss its own target name"
                )
            losses.append(loss)

    def _loss_name(self, kind: str) -> str:
        taken = {loss.name for loss in self._model.update_parameters.loss_layers}
        taken.update(layer.name for layer in self._model.network.layers)
        candidate, index = f"{kind}_loss", 1
        while candidate in taken:
            index += 1
            candidate = f"{kind}_loss_{index}"
        return candidate

    def _default_target(self, kind: str, tensor: str) -> str:
        if kind == "categorical_cross_entropy" and self._model.HasField("classifier"):
            return self._model.classifier.predicted_feature_name
        return f"{tensor}_true"

    def _check_loss_input(self, where: str, kind: str, tensor: str, from_logits: bool) -> None:
        producer = graph.producers(self._model).get(tensor)
        if producer is None:
            raise SpecEditError(
                f'{where}.input: "{tensor}" is not produced by any layer; name a layer output'
            )
        is_softmax = producer.WhichOneof("kind") == "softmax"
        if kind != "categorical_cross_entropy":
            return
        if not from_logits and not is_softmax:
            raise SpecEditError(
                f'{where}.input: "{tensor}" comes from {layer_ref(producer.name)}, not a softmax; '
                "cross-entropy on probabilities needs a softmax output; "
                "pass from_logits=True (mlspec make-updatable --from-logits) to train on logits, or add "
                "a softmax after it (mlspec insert-layer --kind softmax)"
            )
        if from_logits and is_softmax:
            raise SpecEditError(
                f'{where}.input: "{tensor}" is a softmax output but from_logits=True expects logits; '
                f'use the softmax\'s input "{producer.inputs[0]}" or from_logits=False'
            )

    def _check_loss_names(self, where: str, kind: str, loss: training_pb2.LossLayer) -> None:
        if any(layer.name == loss.name for layer in self._model.network.layers):
            raise SpecEditError(f'{where}: "{loss.name}" is a layer name; loss names must differ from layers')
        if any(other.name == loss.name for other in self._model.update_parameters.loss_layers):
            raise SpecEditError(f"{where}: a loss with this name already exists; use set_loss to replace it")
        label = self._model.classifier.predicted_feature_name if self._model.HasField("classifier") else ""
        if loss.target in self._known_tensors() or (
            loss.target == label and kind != "categorical_cross_entropy"
        ):
            raise SpecEditError(
                f'{where}.target: "{loss.target}" already names a tensor of the network; '
                "pick another target name"
            )

    def set_optimizer(self, params: OptimizerParams) -> None:
        """Store an SgdParams, AdamParams or AdamWParams; replaces any previous optimizer."""
        with self._edit(f"set optimizer {type(params).__name__}", validate=True):
            self._model.update_parameters.optimizer.CopyFrom(params.to_proto())

    def set_epochs(self, default: int, allowed: Allowed = None) -> None:
        """Replaces any earlier setting (coremltools appended instead)."""
        with self._edit(f"set_epochs({default})", validate=True):
            param = int_param(default, allowed)
            raise_on_problems("set_epochs", training_pb2.UpdateParameters(epochs=param))
            self._model.update_parameters.epochs.CopyFrom(param)

    def set_shuffle(self, default: bool = True) -> None:
        with self._edit("set_shuffle", validate=True):
            self._model.update_parameters.shuffle.default_value = bool(default)

    def set_augmentation(
        self,
        *,
        brightness: float = 0.0,
        horizontal_flip: bool = False,
        max_rotation_degrees: float = 0.0,
        crop_padding: int = 0,
    ) -> None:
        """Seeded random changes to image inputs while training (training.proto's Augmentation);
        all off clears it. Refused without an image input or with a value past its limits."""
        with self._edit("set_augmentation", validate=True):
            update = self._model.update_parameters
            update.augmentation.brightness = brightness
            update.augmentation.horizontal_flip = horizontal_flip
            update.augmentation.max_rotation_degrees = max_rotation_degrees
            update.augmentation.crop_padding = crop_padding
            self._model.spec_version = max(self._model.spec_version, SPEC_VERSION)
            if not (brightness or horizontal_flip or max_rotation_degrees or crop_padding):
                update.ClearField("augmentation")

    def set_seed(self, default: int, allowed: Allowed = None) -> None:
        with self._edit(f"set_seed({default})", validate=True):
            param = int_param(default, SEED_RANGE if allowed is None else allowed)
            raise_on_problems("set_seed", training_pb2.UpdateParameters(seed=param))
            self._model.update_parameters.seed.CopyFrom(param)

    def set_proximal_mu(self, default: float, allowed: Allowed = None) -> None:
        """FedProx's proximal strength: training adds (mu/2)·||w − anchor||², the anchor being the
        weights training starts from (a federated round's global model). Allowed defaults to [0, 1]."""
        with self._edit(f"set_proximal_mu({default})", validate=True):
            param = double_param("proximal_mu", default, allowed)
            raise_on_problems("set_proximal_mu", training_pb2.UpdateParameters(proximal_mu=param))
            self._model.update_parameters.proximal_mu.CopyFrom(param)

    def set_gradient_clipping(
        self, *, max_norm: float | None = None, max_value: float | None = None, allowed: Allowed = None
    ) -> None:
        """Clip by global norm or by value (exactly one); allowed defaults to {default}."""
        if (max_norm is None) == (max_value is None):
            raise SpecEditError("set_gradient_clipping: give exactly one of max_norm or max_value")
        field, value = ("max_norm", max_norm) if max_norm is not None else ("max_value", max_value)
        assert value is not None
        with self._edit(f"set_gradient_clipping({field}={value})", validate=True):
            clipping = training_pb2.GradientClipping()
            getattr(clipping, field).CopyFrom(
                hyper.double_parameter(value, [value] if allowed is None else normalise_allowed(allowed))
            )
            raise_on_problems("set_gradient_clipping", training_pb2.UpdateParameters(clipping=clipping))
            self._model.update_parameters.clipping.CopyFrom(clipping)

    def clear_gradient_clipping(self) -> None:
        with self._edit("clear gradient clipping", validate=True):
            self._model.update_parameters.ClearField("clipping")

    def set_step_schedule(self, step_epochs: int, gamma: float) -> None:
        """Multiply the learning rate by gamma every step_epochs epochs."""
        with self._edit("set step schedule", validate=True):
            if step_epochs < 1 or not 0 < gamma <= 1:
                raise SpecEditError(
                    f"step schedule: need step_epochs >= 1 and gamma in (0, 1], got {step_epochs}, {gamma}"
                )
            schedule = self._model.update_parameters.lr_schedule
            schedule.step.step_epochs, schedule.step.gamma = step_epochs, gamma

    def set_cosine_schedule(self, min_lr: float = 0.0) -> None:
        with self._edit("set cosine schedule", validate=True):
            if min_lr < 0:
                raise SpecEditError(f"cosine schedule: min_lr={min_lr} must not be negative")
            self._model.update_parameters.lr_schedule.cosine.min_lr = min_lr

    def set_warmup_schedule(self, warmup_steps: int, start_factor: float = 0.1) -> None:
        """Ramp from start_factor * lr to lr over warmup_steps mini-batches."""
        with self._edit("set warmup schedule", validate=True):
            if warmup_steps < 1 or not 0 < start_factor <= 1:
                raise SpecEditError(
                    "warmup schedule: need warmup_steps >= 1 and start_factor in (0, 1], "
                    f"got {warmup_steps}, {start_factor}"
                )
            warmup = self._model.update_parameters.lr_schedule.linear_warmup
            warmup.warmup_steps, warmup.start_factor = warmup_steps, start_factor

    def clear_lr_schedule(self) -> None:
        with self._edit("clear learning-rate schedule", validate=True):
            self._model.update_parameters.ClearField("lr_schedule")


def _layer_list(names: Sequence[str]) -> str:
    return ", ".join(layer_ref(name) for name in names) or "no layers"
