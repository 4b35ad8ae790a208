"""Split a network into the frozen layers in front and the rest, for the runtime's feature cache.

When only the last layers train (the personalisation case), everything before the first
updatable layer gives the same output for an example in every epoch. The runtime computes that
output once (`mlspec.runtime.feature_cache`) and trains a spec made of the remaining layers,
whose inputs are the tensors the frozen front hands over (the "cut"). This module makes the two
specs, or says in one sentence why the split would change what training computes:

- a dropout layer (or a random ONNX node) in front gives different features in each epoch;
- a trainable layer that also reads a model input directly would need the raw input as well.

A frozen batch norm is safe: mlspec trains it with its running statistics (inference mode),
and only an updatable batch norm normalises by the batch, which is never in front.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlspec._proto import layers_pb2, model_pb2, tensor_pb2
from mlspec.builder.description import tensor_feature_type
from mlspec.builder.training_inputs import sync_training_inputs
from mlspec.spec.shapes import infer_shapes
from mlspec.spec.text import shown

# ONNX ops whose output in a training graph changes from one run to the next.
RANDOM_OPS = frozenset(
    {
        "Dropout",
        "RandomNormal",
        "RandomNormalLike",
        "RandomUniform",
        "RandomUniformLike",
        "Multinomial",
        "Bernoulli",
        "BatchNormalization",
    }
)


@dataclass(frozen=True)
class FrozenSplit:
    """The frozen front as an inference spec whose outputs are `cut`, and the rest as a spec
    whose inputs are `cut` (same layer names, losses, optimizer and hyperparameters)."""

    front: model_pb2.Model
    rest: model_pb2.Model
    cut: tuple[str, ...]
    front_layers: tuple[str, ...]


def split_frozen_prefix(model: model_pb2.Model) -> FrozenSplit | str:
    """The split of `model` at its first updatable layer, or why there is none to make."""
    layers = list(model.network.layers)
    first = next((i for i, layer in enumerate(layers) if layer.is_updatable), None)
    if first is None:
        return "no layer is updatable"
    if first == 0:
        return f'the first layer, "{shown(layers[0].name)}", is updatable: nothing in front is frozen'
    front, rest = layers[:first], layers[first:]
    for layer in front:
        reason = _changing(layer)
        if reason:
            return reason
    made_in_front = {name for layer in front for name in layer.outputs}
    made_behind = {name for layer in rest for name in layer.outputs}
    model_inputs = {feature.name for feature in model.description.inputs}
    read = [name for layer in rest for name in layer.inputs]
    read += [loss.input for loss in model.update_parameters.loss_layers]
    direct = sorted({name for name in read if name in model_inputs})
    if direct:
        return (
            f"the trainable layers also read the model input {shown(direct[0])} directly, "
            "so the frozen layers' outputs alone cannot stand in for the data"
        )
    cut = tuple(dict.fromkeys(name for name in read if name in made_in_front and name not in made_behind))
    shapes = infer_shapes(model)
    types = {name: tensor_feature_type(shapes.get(name)) for name in cut}
    unknown = [name for name, feature_type in types.items() if feature_type is None]
    if unknown:
        return f"the shape of {shown(unknown[0])}, which the frozen layers hand over, is not known"
    described = {name: feature_type for name, feature_type in types.items() if feature_type is not None}
    return FrozenSplit(
        front=_front_spec(model, first, described),
        rest=_rest_spec(model, first, described, made_in_front),
        cut=cut,
        front_layers=tuple(layer.name for layer in front),
    )


def _changing(layer: layers_pb2.Layer) -> str:
    """Why this frozen layer's output changes between epochs in a training graph, or ''."""
    kind = layer.WhichOneof("kind")
    name = shown(layer.name)
    if kind == "dropout":
        return f'the frozen layer "{name}" is a dropout, whose output changes in every epoch'
    if kind == "onnx_node" and layer.onnx_node.op_type in RANDOM_OPS:
        op = layer.onnx_node.op_type
        return f'the frozen layer "{name}" is an ONNX {op}, whose output may change in every epoch'
    return ""


def _front_spec(
    model: model_pb2.Model, first: int, types: dict[str, tensor_pb2.FeatureType]
) -> model_pb2.Model:
    """Inputs, the frozen layers and the cut as outputs; nothing to train, no labels."""
    front = model_pb2.Model(spec_version=model.spec_version)
    front.description.inputs.extend(model.description.inputs)
    for name, feature_type in types.items():
        front.description.outputs.add(name=name).type.CopyFrom(feature_type)
    front.network.layers.extend(model.network.layers[:first])
    return front


def _rest_spec(
    model: model_pb2.Model,
    first: int,
    types: dict[str, tensor_pb2.FeatureType],
    made_in_front: set[str],
) -> model_pb2.Model:
    """The model from its first updatable layer on, reading the cut as its inputs."""
    rest = model_pb2.Model()
    rest.CopyFrom(model)
    del rest.network.layers[:first]
    del rest.description.inputs[:]
    for name, feature_type in types.items():
        rest.description.inputs.add(name=name).type.CopyFrom(feature_type)
    kept = [feature for feature in rest.description.outputs if feature.name not in made_in_front]
    del rest.description.outputs[:]
    rest.description.outputs.extend(kept)
    sync_training_inputs(rest, infer_shapes(rest))
    return rest
