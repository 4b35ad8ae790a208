"""Run a spec's forward pass layer by layer in numpy.

This is the debugging tool users reach for when a converted model disagrees with their
expectations, and the yardstick the converter's tests judge the ONNX emitters by. It shares no
formula with the emitters: each kind is written from the semantics in layers.proto.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from mlspec._proto import model_pb2
from mlspec.reference import activation, conv, dense, elementwise, norm, onnx_node, pooling, shape_ops
from mlspec.reference.context import Array, LayerContext, LayerFunction
from mlspec.spec.errors import MlspecError, layer_ref
from mlspec.spec.graph import class_labels
from mlspec.spec.kinds import KINDS, kind_of
from mlspec.spec.layer_kinds import by_kind

LAYER_FUNCTIONS: dict[str, LayerFunction] = by_kind(
    "mlspec.reference",
    activation.FUNCTIONS,
    conv.FUNCTIONS,
    dense.FUNCTIONS,
    elementwise.FUNCTIONS,
    norm.FUNCTIONS,
    onnx_node.FUNCTIONS,
    pooling.FUNCTIONS,
    shape_ops.FUNCTIONS,
)
"""Every kind's formula, gathered from the family modules' own tables."""


def evaluate(
    model: model_pb2.Model,
    feeds: Mapping[str, npt.ArrayLike],
    *,
    training: bool = False,
    dtype: npt.DTypeLike = np.float32,
    overrides: Mapping[str, npt.ArrayLike] | None = None,
    outputs: Iterable[str] | None = None,
    dropout_masks: Mapping[str, npt.ArrayLike] | None = None,
) -> dict[str, Array]:
    """Forward pass of `model` on `feeds` (batch dimension included).

    - training: updatable batch-norm layers use batch statistics and report their updated running
      statistics as "{layer}.running_mean" / "{layer}.running_variance" (request them in
      `outputs`); dropout with a non-zero rate needs its keep-mask in `dropout_masks[layer]`.
    - dtype: the float type of every computation (float64 for finite-difference checks).
    - overrides: replacement weights by "{layer}.{field}" (onnx nodes: "{layer}.constants.{name}").
    - outputs: tensor names to return, any tensor of the network; default: the model's outputs,
      the classifier's label and probabilities included.
    """
    float_dtype = np.dtype(dtype)
    if not np.issubdtype(float_dtype, np.floating):
        raise MlspecError(f"evaluate(dtype={float_dtype}): use a float dtype such as float32 or float64")
    _check_overrides(model, overrides or {})
    values = _read_feeds(model, feeds, float_dtype)
    for layer in model.network.layers:
        kind = kind_of(layer)
        missing = [name for name in layer.inputs if name not in values]
        if missing:
            raise MlspecError(
                f"{layer_ref(layer.name)}: input {missing[0]!r} is not produced before this layer"
            )
        context = LayerContext(layer, float_dtype, training, overrides or {}, dropout_masks or {})
        results = LAYER_FUNCTIONS[kind](context, [values[name] for name in layer.inputs])
        values.update(zip(layer.outputs, results, strict=True))
        values.update(context.side_outputs)
    _add_predicted_label(model, values)
    wanted = list(outputs) if outputs is not None else _default_outputs(model)
    unknown = [name for name in wanted if name not in values]
    if unknown:
        raise MlspecError(
            f"evaluate: no tensor named {unknown[0]!r}; tensors are: {', '.join(sorted(values))}"
        )
    return {name: values[name] for name in wanted}


def _check_overrides(model: model_pb2.Model, overrides: Mapping[str, npt.ArrayLike]) -> None:
    """A misspelt override would silently leave the spec's weight in place; refuse it instead."""
    known: set[str] = set()
    for layer in model.network.layers:
        kind = kind_of(layer)
        if kind == "onnx_node":
            known.update(f"{layer.name}.constants.{c.name}" for c in layer.onnx_node.constants)
        else:
            known.update(f"{layer.name}.{field}" for field in KINDS[kind].tensor_fields)
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise MlspecError(
            f"evaluate(overrides=...): {unknown[0]!r} names no weight; "
            f"weights are: {', '.join(sorted(known))}"
        )


def _read_feeds(
    model: model_pb2.Model, feeds: Mapping[str, npt.ArrayLike], dtype: np.dtype[Any]
) -> dict[str, Array]:
    values: dict[str, Array] = {}
    for feature in model.description.inputs:
        if feature.name not in feeds:
            expected = ", ".join(f.name for f in model.description.inputs)
            raise MlspecError(
                f"evaluate: feed {feature.name!r} is missing; the model's inputs are {expected}"
            )
        array = np.asarray(feeds[feature.name])
        values[feature.name] = array.astype(dtype) if np.issubdtype(array.dtype, np.floating) else array
    return values


def _add_predicted_label(model: model_pb2.Model, values: dict[str, Array]) -> None:
    """The classifier's label: the class label of the most probable class (its index if unlabelled)."""
    info = model.classifier
    if not (model.HasField("classifier") and info.predicted_feature_name):
        return
    probabilities = values.get(info.predicted_probabilities_name)
    if probabilities is None:
        raise MlspecError(
            f"classifier.predicted_probabilities_name: {info.predicted_probabilities_name!r} is not "
            "produced by any layer"
        )
    winners = np.argmax(probabilities, axis=-1)
    labels = class_labels(model)
    values[info.predicted_feature_name] = np.asarray(labels)[winners] if labels else winners.astype(np.int64)


def _default_outputs(model: model_pb2.Model) -> list[str]:
    names = [feature.name for feature in model.description.outputs]
    if model.HasField("classifier"):
        for name in (model.classifier.predicted_probabilities_name, model.classifier.predicted_feature_name):
            if name and name not in names:
                names.append(name)
    return names
