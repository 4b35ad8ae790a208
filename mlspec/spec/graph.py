"""Name lookups over a spec's network: who produces and who consumes each tensor."""

from __future__ import annotations

from collections import defaultdict

from mlspec._proto import layers_pb2, model_pb2
from mlspec.spec.errors import MlspecError


def find_layer(model: model_pb2.Model, name: str) -> layers_pb2.Layer:
    for layer in model.network.layers:
        if layer.name == name:
            return layer
    names = ", ".join(layer.name for layer in model.network.layers) or "(none)"
    raise MlspecError(f'no layer named "{name}"; layers are: {names}')


def layer_index(model: model_pb2.Model, name: str) -> int:
    for index, layer in enumerate(model.network.layers):
        if layer.name == name:
            return index
    find_layer(model, name)  # raises with the list of names
    raise AssertionError("unreachable")


def producers(model: model_pb2.Model) -> dict[str, layers_pb2.Layer]:
    """Map each tensor name to the layer that outputs it (the last one, if several do)."""
    return {output: layer for layer in model.network.layers for output in layer.outputs}


def consumers(model: model_pb2.Model) -> dict[str, list[layers_pb2.Layer]]:
    result: dict[str, list[layers_pb2.Layer]] = defaultdict(list)
    for layer in model.network.layers:
        for name in layer.inputs:
            result[name].append(layer)
    return dict(result)


def input_names(model: model_pb2.Model) -> list[str]:
    return [feature.name for feature in model.description.inputs]


def training_input_names(model: model_pb2.Model) -> list[str]:
    return [feature.name for feature in model.description.training_inputs]


def class_labels(model: model_pb2.Model) -> list[str] | list[int]:
    """The classifier's labels (strings or ints), or an empty list for non-classifiers."""
    if not model.HasField("classifier"):
        return []
    which = model.classifier.WhichOneof("labels")
    if which == "string_labels":
        return list(model.classifier.string_labels.values)
    if which == "int64_labels":
        return [int(v) for v in model.classifier.int64_labels.values]
    return []
