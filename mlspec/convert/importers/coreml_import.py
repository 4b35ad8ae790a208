"""Core ML .mlmodel (NeuralNetwork, NeuralNetworkClassifier, NeuralNetworkRegressor) -> mlspec.

Reads the file with coremltools' protobuf definitions (the optional extra `mlspec[coreml]`);
nothing else of coremltools runs. Layer kinds are mapped by coreml_layers (which documents the
layout conventions), training settings by coreml_training. A layer kind mlspec does not map
stops the import with one error naming every such layer and its kind, so a user learns the
whole gap at once.

An image input becomes an mlspec image input (mlspec.spec.images) with the same size, colour
space and scaler (channelScale * pixel + per-channel bias), so the imported model takes the same
pixels; a mean image has no equivalent and is refused.

A classifier's probabilities are the float tensor [batch, classes] that Core ML turns into its
probability dictionary; the tensor is renamed to the dictionary output's name when the two
differ, so outputs and loss inputs keep the names Core ML users know.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from google.protobuf.message import DecodeError

from mlspec._proto import model_pb2, tensor_pb2
from mlspec.builder.description import refresh_output_types
from mlspec.convert.coreml_images import imported_image
from mlspec.convert.coreml_proto import coreml_model_proto
from mlspec.convert.importers.boundary import import_boundary
from mlspec.convert.importers.coreml_checks import check_network
from mlspec.convert.importers.coreml_knn import KNN_TYPES, import_knn
from mlspec.convert.importers.coreml_layers import (
    IMAGE,
    MAPPERS,
    VECTOR,
    CoreMLContext,
    UnmappableLayerError,
)
from mlspec.convert.importers.coreml_training import CoreMLImportError, feature_type, update_parameters
from mlspec.spec.errors import layer_ref
from mlspec.spec.io import SPEC_VERSION
from mlspec.spec.shapes import infer_shapes

_NETWORK_TYPES = ("neuralNetwork", "neuralNetworkClassifier", "neuralNetworkRegressor")


def import_coreml(path: str | os.PathLike[str]) -> model_pb2.Model:
    source = Path(path)
    with import_boundary(CoreMLImportError, str(source), "Core ML"):
        return _import(_read(source), source)


def _import(coreml: Any, source: Path) -> model_pb2.Model:
    which = coreml.WhichOneof("Type")
    if which in KNN_TYPES:
        model = import_knn(coreml, source, _network)
    elif which in _NETWORK_TYPES:
        model = _network(coreml, source)
    else:
        kinds = ", ".join((*_NETWORK_TYPES, *KNN_TYPES))
        raise CoreMLImportError(f"{source}: a {which or 'empty'} model; mlspec imports {kinds} models")
    _metadata(model, coreml.description.metadata, source)
    return model


def _network(coreml: Any, source: Path) -> model_pb2.Model:
    """A neural network (plain, classifier or regressor) with its training settings."""
    which = coreml.WhichOneof("Type")
    network = getattr(coreml, which)
    if network.arrayInputShapeMapping != 0:
        raise CoreMLImportError(f"{source}: only the classic rank-5 array shape mapping is supported")
    check_network(network.layers, coreml.description, str(source))
    model = model_pb2.Model(spec_version=SPEC_VERSION)
    context = CoreMLContext()
    context.id_inputs = {
        layer.input[0] for layer in network.layers if layer.WhichOneof("layer") == "embedding"
    } & {feature.name for feature in coreml.description.input}
    _describe_inputs(model, coreml.description, context, source)
    for step in network.preprocessing:
        _preprocess(step, model, coreml.description, source)
    _map_layers(network.layers, context, source)
    model.network.layers.extend(context.layers)
    if which == "neuralNetworkClassifier":
        _classifier(model, coreml.description, network, source)
    _describe_outputs(model, coreml.description)
    model.is_updatable = bool(coreml.isUpdatable)
    if network.HasField("updateParams"):
        label = _label_training_input(model, coreml.description)
        model.update_parameters.CopyFrom(update_parameters(network.updateParams, label, str(source)))
        _training_inputs(model, coreml.description, label, source)
    return model


def _read(source: Path) -> Any:
    model_proto = coreml_model_proto(CoreMLImportError, "import")
    if source.is_dir():
        raise CoreMLImportError(
            f"{source}: an .mlpackage (ML Program); mlspec imports NeuralNetwork .mlmodel files"
        )
    if not source.exists():
        raise CoreMLImportError(f"{source}: no such Core ML file")
    if not source.is_file():
        raise CoreMLImportError(f"{source}: not a regular file (a device or pipe); give an .mlmodel file")
    try:
        return model_proto.Model.FromString(source.read_bytes())
    except DecodeError as exc:
        raise CoreMLImportError(f"{source}: not a readable Core ML model ({exc})") from exc


def _describe_inputs(model: model_pb2.Model, description: Any, context: CoreMLContext, source: Path) -> None:
    for feature in description.input:
        where = f'{source}: input "{feature.name}"'
        ours = model.description.inputs.add(name=feature.name, short_description=feature.shortDescription)
        ours.type.CopyFrom(feature_type(feature.type, where))
        if feature.type.WhichOneof("Type") == "imageType":
            ours.image.CopyFrom(imported_image(feature.type.imageType, None).to_proto())
        if not ours.type.HasField("tensor"):
            continue
        tensor = ours.type.tensor
        if feature.name in context.id_inputs:
            tensor.dtype = tensor_pb2.INT64
        per_example = len(tensor.shape) - 1
        if per_example not in (1, 3):
            raise CoreMLImportError(
                f"{where}: shape of rank {per_example}; Core ML arrays are [C] or [C, H, W]"
            )
        context.ranks[feature.name] = VECTOR if per_example == 1 else IMAGE


def _preprocess(step: Any, model: model_pb2.Model, description: Any, source: Path) -> None:
    """An image scaler becomes its image input's preprocessing (scale and per-channel bias)."""
    images = [f for f in description.input if f.type.WhichOneof("Type") == "imageType"]
    feature = next((f for f in images if f.name == step.featureName), images[0] if len(images) == 1 else None)
    if feature is None or step.WhichOneof("preprocessor") != "scaler":
        raise CoreMLImportError(
            f"{source}: preprocessing {step.featureName or '(unnamed)'}: only an image scaler on an "
            "image input is supported (not a mean image); remove it and feed preprocessed arrays"
        )
    ours = next(f for f in model.description.inputs if f.name == feature.name)
    ours.image.CopyFrom(imported_image(feature.type.imageType, step.scaler).to_proto())


def _map_layers(layers: Any, context: CoreMLContext, source: Path) -> None:
    refused: list[str] = []
    for layer in layers:
        kind = layer.WhichOneof("layer")
        mapper = MAPPERS.get(kind or "")
        if mapper is None:
            refused.append(f"{layer_ref(layer.name)} ({kind})")
            continue
        try:
            mapper(context, layer)
        except UnmappableLayerError as exc:
            refused.append(f"{layer_ref(layer.name)} ({kind}: {exc})")
    if refused:
        raise CoreMLImportError(
            f"{source}: {len(refused)} layer(s) have no mlspec equivalent: {'; '.join(refused)}. "
            f"mlspec maps these Core ML layer kinds: {', '.join(MAPPERS)}"
        )


def _classifier(model: model_pb2.Model, description: Any, network: Any, source: Path) -> None:
    info = model.classifier
    which = network.WhichOneof("ClassLabels")
    if which == "stringClassLabels":
        info.string_labels.values.extend(network.stringClassLabels.vector)
    elif which == "int64ClassLabels":
        info.int64_labels.values.extend(network.int64ClassLabels.vector)
    else:
        raise CoreMLImportError(f"{source}: the classifier has no class labels")
    produced = {name for layer in model.network.layers for name in layer.outputs}
    blob = network.labelProbabilityLayerName or description.predictedProbabilitiesName
    if blob not in produced:
        blob = model.network.layers[-1].outputs[0]
    wanted = description.predictedProbabilitiesName or blob
    if wanted != blob:
        _rename_tensor(model, network.updateParams, blob, wanted)
    info.predicted_probabilities_name = wanted
    info.predicted_feature_name = description.predictedFeatureName or "classLabel"


def _rename_tensor(model: model_pb2.Model, update_params: Any, old: str, new: str) -> None:
    for layer in model.network.layers:
        layer.inputs[:] = [new if name == old else name for name in layer.inputs]
        layer.outputs[:] = [new if name == old else name for name in layer.outputs]
    for loss in update_params.lossLayers:
        body = getattr(loss, loss.WhichOneof("LossLayerType") or "categoricalCrossEntropyLossLayer")
        if body.input == old:
            body.input = new


def _describe_outputs(model: model_pb2.Model, description: Any) -> None:
    for feature in description.output:
        model.description.outputs.add(name=feature.name, short_description=feature.shortDescription)
    refresh_output_types(model, infer_shapes(model))


def _label_training_input(model: model_pb2.Model, description: Any) -> str:
    if not model.HasField("classifier"):
        return ""
    label = model.classifier.predicted_feature_name
    return label if any(f.name == label for f in description.trainingInput) else ""


def _training_inputs(model: model_pb2.Model, description: Any, label: str, source: Path) -> None:
    inputs = {feature.name: feature for feature in model.description.inputs}
    class_targets = {
        loss.target
        for loss in model.update_parameters.loss_layers
        if loss.HasField("categorical_cross_entropy")
    }
    for feature in description.trainingInput:
        ours = model.description.training_inputs.add(
            name=feature.name, short_description=feature.shortDescription
        )
        if feature.name in inputs:
            ours.type.CopyFrom(inputs[feature.name].type)
        elif feature.name == label and any(f.name == label for f in model.description.outputs):
            ours.type.CopyFrom(next(f.type for f in model.description.outputs if f.name == label))
        else:
            where = f'{source}: training input "{feature.name}"'
            ours.type.CopyFrom(feature_type(feature.type, where, class_index=feature.name in class_targets))


def _metadata(model: model_pb2.Model, metadata: Any, source: Path) -> None:
    ours = model.metadata
    ours.name = source.stem
    ours.short_description = metadata.shortDescription
    ours.version = metadata.versionString
    ours.author = metadata.author
    ours.license = metadata.license
    ours.user_defined.update(dict(metadata.userDefined))
