"""Loss rules: names, where each loss reads, and what its target must look like.

A loss reads a tensor the network computes and compares it with a training input. Core ML
allows one loss directly on a softmax; mlspec allows several weighted losses, on probabilities
or on logits, and checks the target's type against what each loss kind needs.
"""

from __future__ import annotations

import math
from collections import Counter

from mlspec._proto import tensor_pb2, training_pb2
from mlspec.spec.errors import Problem, layer_ref, loss_ref
from mlspec.spec.tensor_info import STRING, UNKNOWN_DTYPE, TensorInfo, dtype_label, format_dims
from mlspec.spec.validate.context import Context, layer_where

_FLOATS = (tensor_pb2.FLOAT32, tensor_pb2.FLOAT16, tensor_pb2.DOUBLE)
_ELEMENTWISE = ("mean_squared_error", "binary_cross_entropy", "l1", "huber")


def loss_where(loss: training_pb2.LossLayer, index: int) -> str:
    return loss_ref(loss.name, index)


def check(context: Context) -> list[Problem]:
    problems = _names(context)
    for index, loss in enumerate(context.model.update_parameters.loss_layers):
        where = loss_where(loss, index)
        problems += _scalars(loss, where)
        problems += _input(context, loss, where)
        problems += _target(context, loss, where)
    return problems


def _names(context: Context) -> list[Problem]:
    losses = context.model.update_parameters.loss_layers
    layer_names = {layer.name for layer in context.model.network.layers}
    problems = [
        Problem(loss_where(loss, index), "has no name", "give every loss a unique name")
        for index, loss in enumerate(losses)
        if not loss.name
    ]
    for name, count in Counter(loss.name for loss in losses if loss.name).items():
        if count > 1:
            problems.append(
                Problem(loss_ref(name), f"the name is used by {count} losses", "rename all but one")
            )
        if name in layer_names:
            problems.append(
                Problem(loss_ref(name), f"the name is also the name of {layer_ref(name)}", "rename the loss")
            )
    return problems


def _scalars(loss: training_pb2.LossLayer, where: str) -> list[Problem]:
    problems: list[Problem] = []
    kind = loss.WhichOneof("kind")
    if kind is None:
        kinds = ", ".join(f.name for f in training_pb2.LossLayer.DESCRIPTOR.oneofs_by_name["kind"].fields)
        problems.append(Problem(where, "no loss kind is set", f"set one of: {kinds}"))
    if loss.HasField("weight") and not (loss.weight > 0 and math.isfinite(loss.weight)):
        problems.append(
            Problem(
                f"{where}.weight",
                f"weight {loss.weight:g} must be > 0",
                "use a positive weight, or clear it for 1",
            )
        )
    if kind == "huber" and not loss.huber.delta >= 0:
        problems.append(
            Problem(
                f"{where}.huber.delta",
                f"delta {loss.huber.delta:g} must be >= 0",
                "use a delta >= 0 (0 means 1)",
            )
        )
    return problems


def _input(context: Context, loss: training_pb2.LossLayer, where: str) -> list[Problem]:
    name = loss.input
    at = f"{where}.input"
    if not name:
        return [Problem(at, "is empty", "name the network tensor the loss reads")]
    if name in context.input_names:
        return [Problem(at, f'"{name}" is a model input', "a loss reads a tensor the network computes")]
    producer = context.producer(name)
    if producer is None:
        return [Problem(at, f'"{name}" is not produced by any layer', "name a layer output")]
    info = context.info(name)
    problems: list[Problem] = []
    if info.dtype not in (UNKNOWN_DTYPE, *_FLOATS):
        problems.append(
            Problem(at, f'"{name}" is {info}, not a float tensor', "put the loss on a float tensor")
        )
    if loss.WhichOneof("kind") == "categorical_cross_entropy":
        from_softmax = producer.WhichOneof("kind") == "softmax"
        producer_at = layer_where(producer, context.producer_index[name])
        if not loss.categorical_cross_entropy.from_logits and not from_softmax:
            problems.append(
                Problem(
                    at,
                    f'"{name}" comes from {producer_at} ({producer.WhichOneof("kind")}), not from a softmax, '
                    "but from_logits is false",
                    "set from_logits or put the loss on the softmax output",
                )
            )
        axis = int(producer.softmax.axis) if from_softmax else -1
        last = axis in (0, -1) or (info.rank is not None and axis == info.rank - 1)
        if from_softmax and not loss.categorical_cross_entropy.from_logits and not last:
            # convert reads the softmax's input as the logits only for a softmax over the classes
            problems.append(
                Problem(
                    at,
                    f'"{name}" is a softmax over axis {axis} ({producer_at}); cross-entropy needs the '
                    "softmax over the last axis, the classes",
                    "set the softmax's axis to -1",
                )
            )
        if loss.categorical_cross_entropy.from_logits and from_softmax:
            problems.append(
                Problem(
                    at,
                    f'"{name}" is the output of softmax {producer_at}, but from_logits is true',
                    "clear from_logits, or put the loss on the softmax's input (the logits)",
                )
            )
        if info.rank is not None and info.rank < 2:
            problems.append(
                Problem(at, f'"{name}" is {info}; cross-entropy needs [batch, classes]', "read a class axis")
            )
    return problems


def _target(context: Context, loss: training_pb2.LossLayer, where: str) -> list[Problem]:
    name = loss.target
    at = f"{where}.target"
    if not name:
        return [Problem(at, "is empty", "name the training input holding the expected values")]
    producer = context.producer(name)
    if producer is not None:
        return [
            Problem(
                at,
                f'"{name}" is produced by {layer_where(producer, context.producer_index[name])}; '
                "a target must come from the training data",
                "name a training input",
            )
        ]
    if name in context.input_names:
        return [
            Problem(
                at,
                f'"{name}" is a model input, so the network would see its own labels',
                "use a separate training input for the target",
            )
        ]
    target = context.training_input_info(name)
    if target is None:
        return [
            Problem(
                at,
                f'"{name}" is not a training input',
                f'add "{name}" to description.training_inputs',
            )
        ]
    kind = loss.WhichOneof("kind")
    if kind == "categorical_cross_entropy":
        return _class_target(context, name, target, at)
    if kind in _ELEMENTWISE and loss.input in context.producer_index:
        return _like_input(context.info(loss.input), name, target, at)
    return []


def _class_target(context: Context, name: str, target: TensorInfo, at: str) -> list[Problem]:
    if target.dtype == STRING:
        labels = (
            context.model.classifier.WhichOneof("labels") if context.model.HasField("classifier") else None
        )
        if labels != "string_labels":
            return [
                Problem(
                    at,
                    f'"{name}" holds strings, but the model is not a classifier with string labels',
                    "use an int64 class-index target, or give the classifier string labels",
                )
            ]
        return []
    dims = target.dims or ()
    is_index = target.dtype == tensor_pb2.INT64 and (
        len(dims) == 1 or (len(dims) == 2 and dims[1] in (1, None))
    )
    if not is_index:
        return [
            Problem(
                at,
                f'"{name}" is {target}; categorical cross-entropy needs class indices',
                "declare the target as an int64 feature, an int64 tensor [batch] or [batch, 1], "
                "or a string feature of a string-labelled classifier",
            )
        ]
    return []


def _like_input(prediction: TensorInfo, name: str, target: TensorInfo, at: str) -> list[Problem]:
    if target.dtype not in (UNKNOWN_DTYPE, *_FLOATS):
        return [
            Problem(
                at,
                f'"{name}" is {dtype_label(target.dtype)}; this loss compares float values',
                "declare the target as a float32 tensor shaped like the loss input",
            )
        ]
    if prediction.dims is None or target.dims is None:
        return []
    mismatch = len(prediction.dims) != len(target.dims) or any(
        isinstance(a, int) and isinstance(b, int) and a != b
        for a, b in zip(prediction.dims, target.dims, strict=False)
    )
    if mismatch:
        expected = format_dims(prediction.dims)
        return [
            Problem(
                at,
                f'"{name}" is {format_dims(target.dims)}, but the loss input is {expected}',
                f"declare the target with the input's shape {expected}",
            )
        ]
    return []
