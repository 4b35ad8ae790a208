"""Assemble the manifest from the spec and what conversion produced (see manifest.py for the keys)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlspec._proto import model_pb2, tensor_pb2
from mlspec.convert.losses import LOSS_OUTPUT
from mlspec.convert.manifest import (
    Feature,
    LabelMapping,
    LossEntry,
    Manifest,
    OptimizerInfo,
    ParameterRef,
    StockOrt,
    WriteBack,
)
from mlspec.convert.optimizers import (
    OptimizerPlan,
    anchor_names,
    hyper_parameter_name,
    momentum_buffer_name,
)
from mlspec.spec.errors import MlspecError, loss_ref
from mlspec.spec.graph import class_labels
from mlspec.spec.images import ImageInput
from mlspec.spec.kinds import layer_tensors
from mlspec.spec.shapes import feature_info
from mlspec.spec.tensor_info import DTYPE_NAMES, Dim


@dataclass(frozen=True)
class ManifestParts:
    model: model_pb2.Model
    spec_sha256: str
    plan: OptimizerPlan
    losses: list[LossEntry]
    trainable: list[str]
    frozen: list[str]
    running: dict[str, str]
    training_inputs: list[str]
    eval_inputs: list[str]
    training_outputs: list[str]
    eval_outputs: list[str]
    label_mapping: dict[str, LabelMapping]
    backend: str


def build_manifest(parts: ManifestParts) -> Manifest:
    model = parts.model
    owners = _tensor_owners(model)
    targets = {entry.target for entry in parts.losses}
    writeback = [
        WriteBack(parameter=name, output=output, output_index=parts.training_outputs.index(output))
        for name, output in parts.running.items()
    ]
    stock_needs = _needs_mlspec_runtime(model, parts, writeback)
    return Manifest(
        spec_version=int(model.spec_version),
        spec_sha256=parts.spec_sha256,
        model_name=model.metadata.name,
        inputs=[_feature(f, "input") for f in model.description.inputs],
        training_inputs=[
            _feature(f, "target" if f.name in targets else "input") for f in model.description.training_inputs
        ],
        feed_order=parts.training_inputs,
        eval_feed_order=parts.eval_inputs,
        label_mapping=parts.label_mapping,
        class_labels=list(class_labels(model)),
        losses=parts.losses,
        loss_output=LOSS_OUTPUT,
        trainable=[owners.get(name, _guess_owner(name)) for name in parts.trainable],
        frozen=[owners.get(name, _guess_owner(name)) for name in parts.frozen],
        running_stat_writeback=writeback,
        training_outputs=parts.training_outputs[1:],
        eval_outputs=parts.eval_outputs,
        optimizer=OptimizerInfo(
            kind=parts.plan.kind,
            ort_kind=parts.plan.ort_kind,
            model_settings=parts.plan.model_settings(parts.plan.defaults()),
            graph_settings={name: hyper_parameter_name(name) for name in parts.plan.graph_settings},
            state=[momentum_buffer_name(name) for name in parts.trainable] if parts.plan.has_momentum else [],
            anchors=anchor_names(parts.plan, parts.trainable),
        ),
        hyperparameters=parts.plan.hyperparameters,
        clipping=parts.plan.clipping,
        lr_schedule=_schedule(model),
        stock_ort=StockOrt(
            runs_alone=not stock_needs[0], needs_mlspec_runtime_for=stock_needs[0] + stock_needs[1]
        ),
        backend=parts.backend,
        augmentation=_augmentation(model),
    )


def _needs_mlspec_runtime(
    model: model_pb2.Model, parts: ManifestParts, writeback: list[WriteBack]
) -> tuple[list[str], list[str]]:
    """(features without which a plain ORT loop trains differently, conveniences only mlspec adds)."""
    essential: list[str] = []
    if writeback:
        essential.append("batch_norm_running_statistics_writeback")
    if model.update_parameters.HasField("lr_schedule"):
        essential.append("lr_schedule")
    if _augmentation(model):
        essential.append("augmentation")
    convenience = ["learning_rate_restore_on_resume", "hyperparameter_override_validation"]
    if parts.label_mapping:
        convenience.append("label_mapping")
    if parts.plan.ort_kind == "adamw":
        convenience.append("optimizer_model_regeneration_for_beta_eps_overrides")
    return essential, convenience


def _feature(feature: tensor_pb2.FeatureDescription, role: str) -> Feature:
    info = feature_info(feature)
    dims: list[Dim] = list(info.dims) if info.dims is not None else []
    image = ImageInput.of(feature.image).to_json() if feature.HasField("image") else None
    return Feature(
        name=feature.name, dtype=DTYPE_NAMES.get(info.dtype, "unknown"), shape=dims, role=role, image=image
    )


def label_mapping(model: model_pb2.Model, losses: list[LossEntry]) -> dict[str, LabelMapping]:
    """Class-label lists the runtime maps targets through; raises when string targets have none."""
    labels = class_labels(model)
    kind = model.classifier.WhichOneof("labels") if model.HasField("classifier") else None
    features = {f.name: f for f in model.description.training_inputs}
    mapping: dict[str, LabelMapping] = {}
    for entry in losses:
        if entry.kind != "categorical_cross_entropy":
            continue
        feature_kind = features[entry.target].type.WhichOneof("kind")
        if feature_kind == "string_type":
            if kind != "string_labels":
                raise MlspecError(
                    f"{loss_ref(entry.name)}.target: {entry.target!r} holds strings but the model has "
                    "no string class labels to map them to; add classifier.string_labels"
                )
            mapping[entry.target] = LabelMapping(kind="string", labels=list(labels))
        elif kind == "int64_labels":
            mapping[entry.target] = LabelMapping(kind="int64", labels=list(labels))
    return mapping


def _schedule(model: model_pb2.Model) -> dict[str, Any] | None:
    update = model.update_parameters
    if not update.HasField("lr_schedule"):
        return None
    kind = update.lr_schedule.WhichOneof("kind")
    if kind is None:
        return None
    message = getattr(update.lr_schedule, kind)
    return {"kind": kind, **{f.name: getattr(message, f.name) for f in message.DESCRIPTOR.fields}}


def _augmentation(model: model_pb2.Model) -> dict[str, Any] | None:
    update = model.update_parameters
    if not update.HasField("augmentation"):
        return None
    message = update.augmentation
    fields = {f.name: getattr(message, f.name) for f in message.DESCRIPTOR.fields}
    return fields if any(fields.values()) else None


def _tensor_owners(model: model_pb2.Model) -> dict[str, ParameterRef]:
    owners: dict[str, ParameterRef] = {}
    for layer in model.network.layers:
        for field_name, _ in layer_tensors(layer):
            name = f"{layer.name}.{field_name}"
            owners[name] = ParameterRef(name=name, layer=layer.name, field=field_name)
    return owners


def _guess_owner(name: str) -> ParameterRef:
    layer, _, field_name = name.rpartition(".")
    return ParameterRef(name=name, layer=layer, field=field_name)
