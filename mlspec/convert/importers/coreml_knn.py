"""Core ML k-NN classifiers -> mlspec: KNearestNeighborsClassifier models, and pipelines of a
neural-network feature extractor followed by one (the personalisation recipe of the Core ML
on-device training series).

The fields map one to one (see proto/mlspec/v1/knn.proto): numberOfNeighbors keeps its default
and allowed range or set; squared Euclidean distance becomes Euclidean (the same neighbours in
the same order); inverse-distance weighting is taken as 1/Euclidean distance, scikit-learn's
weights="distance" (Core ML does not document which distance it inverts); the per-example labels
become the label set plus indices; the default label is kept. The index type (linear or
kd-tree) only changes how Core ML searches, not what it finds, so it is not kept.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from mlspec._proto import model_pb2
from mlspec.builder.knn import KnnClassifier
from mlspec.convert.importers.coreml_training import CoreMLImportError
from mlspec.spec.errors import SpecEditError

KNN_TYPES = ("kNearestNeighborsClassifier", "pipelineClassifier", "pipeline")
NetworkImport = Callable[[Any, Path], model_pb2.Model]
_EXTRACTOR_TYPES = ("neuralNetwork", "neuralNetworkRegressor")


def import_knn(coreml: Any, source: Path, network: NetworkImport) -> model_pb2.Model:
    """A k-NN model, or a pipeline [neural network, k-NN]; `network` imports the extractor."""
    which = coreml.WhichOneof("Type")
    if which == "kNearestNeighborsClassifier":
        return _knn(coreml, coreml, None, source)
    container = getattr(coreml, which)  # a Pipeline holds its models; the classifier wraps one
    stages = list((container if which == "pipeline" else container.pipeline).models)
    kinds = [stage.WhichOneof("Type") for stage in stages]
    if len(stages) != 2 or kinds[0] not in _EXTRACTOR_TYPES or kinds[1] != "kNearestNeighborsClassifier":
        raise CoreMLImportError(
            f"{source}: a pipeline of {', '.join(str(k) for k in kinds) or 'nothing'}; mlspec imports a "
            "pipeline of a neuralNetwork feature extractor followed by a kNearestNeighborsClassifier"
        )
    extractor = network(stages[0], source)
    return _knn(stages[1], coreml, extractor, source)


def _knn(stage: Any, top: Any, extractor: model_pb2.Model | None, source: Path) -> model_pb2.Model:
    """`stage` holds the k-NN; `top` is the file's model, whose description names the outputs."""
    description = top.description
    knn = stage.kNearestNeighborsClassifier
    index = knn.nearestNeighborsIndex
    where = f"{source}: kNearestNeighborsClassifier"
    if index.WhichOneof("DistanceFunction") != "squaredEuclideanDistance":
        raise CoreMLImportError(
            f"{where}: distance {index.WhichOneof('DistanceFunction')}; only squaredEuclideanDistance exists"
        )
    feature = stage.description.input[0].name
    if extractor is not None and feature not in {
        out for layer in extractor.network.layers for out in layer.outputs
    }:
        raise CoreMLImportError(f"{where}: its input {feature!r} is not an output of the feature extractor")
    label_kind = "string" if knn.WhichOneof("ClassLabels") == "stringClassLabels" else "int64"
    labels = list(getattr(knn, knn.WhichOneof("ClassLabels") or "int64ClassLabels").vector)
    default = getattr(
        knn,
        knn.WhichOneof("DefaultClassLabel")
        or ("defaultStringLabel" if label_kind == "string" else "defaultInt64Label"),
    )
    k = knn.numberOfNeighbors
    allowed: tuple[int, int] | list[int] = (
        (int(k.range.minValue), int(k.range.maxValue))
        if k.WhichOneof("AllowedValues") == "range"
        else [int(v) for v in k.set.values]
    )
    weighting = (
        "inverse_distance" if knn.WhichOneof("WeightingScheme") == "inverseDistanceWeighting" else "uniform"
    )
    try:
        builder = KnnClassifier.new(
            dimensions=int(index.numberOfDimensions),
            label_kind=label_kind,
            default_label=default,
            k=int(k.defaultValue),
            k_allowed=allowed,
            weighting=weighting,
            feature_extractor=extractor,
            feature_name=feature,
            input_name=feature,
            predicted_feature_name=description.predictedFeatureName or "label",
            probabilities_name=description.predictedProbabilitiesName or "probabilities",
        )
        dimensions = int(index.numberOfDimensions)
        short = [i for i, sample in enumerate(index.floatSamples) if len(sample.vector) != dimensions]
        if short:
            raise CoreMLImportError(
                f"{where}: floatSamples[{short[0]}] has {len(index.floatSamples[short[0]].vector)} values; "
                f"numberOfDimensions is {dimensions}"
            )
        samples = np.array([list(sample.vector) for sample in index.floatSamples], np.float32)
        if len(samples) != len(labels):
            raise CoreMLImportError(f"{where}: {len(samples)} samples but {len(labels)} labels")
        if len(samples):
            builder.add_examples(samples.reshape(len(samples), -1), labels)
    except SpecEditError as error:
        raise CoreMLImportError(f"{where}: {error}") from None
    model = builder.spec
    model.is_updatable = bool(top.isUpdatable)
    return model
