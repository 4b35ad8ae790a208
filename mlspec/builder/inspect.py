"""A JSON-ready summary of a spec, for the CLI, notebooks and tests.

coremltools' inspection helpers printed to stdout, so nothing could assert on or reuse what
they showed; here everything is returned as plain dicts, lists, strings, numbers and bools.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from google.protobuf.message import Message

from mlspec._proto import model_pb2, parameters_pb2, tensor_pb2, training_pb2
from mlspec.spec import graph, kinds, knn, weights
from mlspec.spec.defaults import unset_default
from mlspec.spec.images import ImageInput
from mlspec.spec.shapes import dtype_label, feature_info, infer_shapes


def inspect_model(model: model_pb2.Model) -> dict[str, Any]:
    shapes = infer_shapes(model)
    layers = []
    for layer in model.network.layers:
        info = shapes.get(layer.outputs[0]) if layer.outputs else None
        tensors = list(kinds.layer_tensors(layer))  # walked once: this loop runs per layer
        layers.append(
            {
                "name": layer.name,
                "kind": layer.WhichOneof("kind"),
                "inputs": list(layer.inputs),
                "outputs": list(layer.outputs),
                "output_shape": None if info is None or info.dims is None else list(info.dims),
                "parameter_count": sum(math.prod(t.shape) for _, t in tensors),
                "is_updatable": layer.is_updatable,
                "updatable_tensors": [f for f, t in tensors if layer.is_updatable and t.is_updatable],
                "tensor_dtypes": {f: weights.dtype_name(t.dtype).lower() for f, t in tensors},
            }
        )
    update = model.update_parameters
    return {
        "name": model.metadata.name,
        "spec_version": model.spec_version,
        "is_updatable": model.is_updatable,
        "metadata": _metadata(model.metadata),
        "inputs": [_feature(f) for f in model.description.inputs],
        "outputs": [_feature(f) for f in model.description.outputs],
        "training_inputs": [_feature(f) for f in model.description.training_inputs],
        "classifier": _classifier(model),
        "layers": layers,
        "parameter_count": sum(layer["parameter_count"] for layer in layers),
        "fp16_layers": fp16_layers(model),
        "losses": [_loss(loss) for loss in update.loss_layers],
        "optimizer": _optimizer(update),
        **_run_settings(model),
        "clipping": _clipping(update),
        "lr_schedule": _oneof_fields(update.lr_schedule) if update.HasField("lr_schedule") else None,
        "augmentation": _plain_fields(update.augmentation) if update.HasField("augmentation") else None,
        "knn": _knn(model),
    }


def fp16_layers(model: model_pb2.Model) -> list[str]:
    """Every layer holding a float16 tensor (coremltools' check only ever looked at the first)."""
    return [
        layer.name
        for layer in model.network.layers
        if any(tensor.dtype == tensor_pb2.FLOAT16 for _, tensor in kinds.layer_tensors(layer))
    ]


def _metadata(metadata: model_pb2.Metadata) -> dict[str, Any]:
    return {
        "name": metadata.name,
        "author": metadata.author,
        "license": metadata.license,
        "version": metadata.version,
        "short_description": metadata.short_description,
        "user_defined": dict(metadata.user_defined),
    }


def _feature(feature: tensor_pb2.FeatureDescription) -> dict[str, Any]:
    info = feature_info(feature)
    kind = feature.type.WhichOneof("kind")
    return {
        "name": feature.name,
        "short_description": feature.short_description,
        "type": {"tensor": "tensor", "string_type": "string", "int64_type": "int64"}.get(kind or "", "unset"),
        "dtype": dtype_label(info.dtype),
        "shape": None if info.dims is None else list(info.dims),
        "image": ImageInput.of(feature.image).to_json() if feature.HasField("image") else None,
    }


def _classifier(model: model_pb2.Model) -> dict[str, Any] | None:
    if not model.HasField("classifier"):
        return None
    return {
        "class_labels": graph.class_labels(model),
        "predicted_feature_name": model.classifier.predicted_feature_name,
        "predicted_probabilities_name": model.classifier.predicted_probabilities_name,
    }


def _loss(loss: training_pb2.LossLayer) -> dict[str, Any]:
    kind = loss.WhichOneof("kind")
    return {
        "name": loss.name,
        "kind": kind,
        "input": loss.input,
        "target": loss.target,
        "weight": loss.weight if loss.HasField("weight") else 1.0,
        **_loss_options(loss, kind),
    }


def _loss_options(loss: training_pb2.LossLayer, kind: str | None) -> dict[str, Any]:
    """Options shown even at their default, so readers need not know proto3's omitted zeros."""
    if kind in ("categorical_cross_entropy", "binary_cross_entropy"):
        return {"from_logits": getattr(loss, kind).from_logits}
    if kind == "huber":
        return {"delta": loss.huber.delta or 1.0}
    return {}


def _knn(model: model_pb2.Model) -> dict[str, Any] | None:
    """A k-NN model's settings and stored examples (counted per label); None for a network."""
    if not knn.is_knn(model):
        return None
    spec = model.knn_classifier
    labels = knn.label_values(model)
    counts = np.bincount(knn.example_labels(model), minlength=len(labels))
    return {
        "feature_name": spec.feature_name,
        "feature_extractor_layers": len(model.network.layers),
        "dimensions": spec.dimensions,
        "example_count": knn.example_count(model),
        "examples_per_label": {str(label): int(count) for label, count in zip(labels, counts, strict=True)},
        "k": _param(spec.number_of_neighbors),
        "distance": knn.enum_name(knn.DISTANCES, spec.distance),
        "weighting": knn.enum_name(knn.WEIGHTINGS, spec.weighting),
        "vote_tie": knn.enum_name(knn.VOTE_TIES, spec.vote_tie),
        "default_label": knn.default_label(model),
    }


def _param(param: parameters_pb2.DoubleParameter | parameters_pb2.Int64Parameter) -> dict[str, Any]:
    which = param.WhichOneof("allowed")
    result: dict[str, Any] = {"default": param.default_value}
    if which == "range":
        result["range"] = [param.range.min, param.range.max]
    elif which == "set":
        result["set"] = list(param.set.values)
    return result


def _optimizer(update: training_pb2.UpdateParameters) -> dict[str, Any] | None:
    kind = update.optimizer.WhichOneof("kind")
    if kind is None:
        return None
    message = getattr(update.optimizer, kind)
    settings: dict[str, Any] = {}
    for field in message.DESCRIPTOR.fields:
        if not message.HasField(field.name):
            settings[field.name] = _unset(field.name, kind)
            continue
        value = getattr(message, field.name)
        if isinstance(value, parameters_pb2.BoolParameter):
            settings[field.name] = {"default": value.default_value}
        else:
            settings[field.name] = _param(value)
    return {"kind": kind, "hyperparameters": settings}


def _run_settings(model: model_pb2.Model) -> dict[str, Any]:
    """Epochs, shuffle and seed as training will use them; None for a spec with no training setup."""
    if not model.HasField("update_parameters"):
        return {"epochs": None, "shuffle": None, "seed": None}
    update = model.update_parameters
    settings = {
        "epochs": _param(update.epochs) if update.HasField("epochs") else _unset("epochs"),
        "shuffle": update.shuffle.default_value if update.HasField("shuffle") else unset_default("shuffle"),
        "seed": _param(update.seed) if update.HasField("seed") else _unset("seed"),
    }
    if update.HasField("proximal_mu"):  # shown only where declared: FedProx specs
        settings["proximal_mu"] = _param(update.proximal_mu)
    return settings


def _unset(name: str, optimizer_kind: str | None = None) -> dict[str, Any]:
    """A setting the spec omits: training fixes it to this value (see mlspec.spec.defaults)."""
    value = unset_default(name, optimizer_kind)
    return {"default": value, "set": [value], "unset": True}


def _clipping(update: training_pb2.UpdateParameters) -> dict[str, Any] | None:
    kind = update.clipping.WhichOneof("kind")
    if kind is None:
        return None
    name = "clip_norm" if kind == "max_norm" else "clip_value"
    return {"kind": kind, "name": name, **_param(getattr(update.clipping, kind))}


def _oneof_fields(message: Message) -> dict[str, Any]:
    fields = message.ListFields()
    if not fields:
        return {}
    descriptor, value = fields[0]
    return {"kind": descriptor.name, **_plain_fields(value)}


def _plain_fields(message: Message) -> dict[str, Any]:
    """Every scalar field, zeros included (proto3 would otherwise hide a min_lr of 0)."""
    return {field.name: getattr(message, field.name) for field in message.DESCRIPTOR.fields}
