"""Core ML k-NN models made with coremltools' KNearestNeighborsClassifierBuilder, as Core ML users
make them: a plain k-NN over digit pixels, and the series' pipeline of a neural-network feature
extractor followed by k-NN."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from coremltools.models import datatypes
from coremltools.models.nearest_neighbors import KNearestNeighborsClassifierBuilder
from coremltools.models.neural_network import NeuralNetworkBuilder
from coremltools.models.utils import save_spec
from coremltools.proto import Model_pb2


def knn_classifier(
    path: Path,
    samples: np.ndarray,
    labels: list[str] | list[int],
    *,
    k: int,
    allowed_range: tuple[int, int],
    weighting: str = "uniform",
    input_name: str = "pixels",
    dimensions: int | None = None,
) -> Model_pb2.Model:
    builder = KNearestNeighborsClassifierBuilder(
        input_name=input_name,
        output_name="digit",
        number_of_dimensions=dimensions or samples.shape[1],
        default_class_label="none" if isinstance(labels[0], str) else -1,
        number_of_neighbors=k,
        weighting_scheme=weighting,
        index_type="linear",
    )
    builder.set_number_of_neighbors_with_bounds(k, allowed_range=allowed_range)
    builder.add_samples(samples, labels)
    save_spec(builder.spec, str(path))
    return builder.spec


def pipeline(
    path: Path, projection: np.ndarray, samples: np.ndarray, labels: list[int], *, k: int, allowed: list[int]
) -> None:
    """pixels [64] -> dense (integer weights, so distances stay exact) -> relu -> k-NN."""
    features = projection.shape[0]
    network = NeuralNetworkBuilder(
        [("pixels", datatypes.Array(64))], [("embedding", datatypes.Array(features))]
    )
    network.add_inner_product(
        "project",
        W=projection,
        b=None,
        input_channels=64,
        output_channels=features,
        has_bias=False,
        input_name="pixels",
        output_name="projected",
    )
    network.add_activation("relu", "RELU", "projected", "embedding")
    embedded = np.maximum(samples @ projection.T, 0)
    knn = KNearestNeighborsClassifierBuilder(
        input_name="embedding",
        output_name="digit",
        number_of_dimensions=features,
        default_class_label=-1,
        number_of_neighbors=k,
        weighting_scheme="inverse_distance",
    )
    knn.set_number_of_neighbors_with_bounds(k, allowed_set=set(allowed))
    knn.add_samples(embedded, labels)
    spec = Model_pb2.Model(specificationVersion=4, isUpdatable=True)
    spec.description.input.extend(network.spec.description.input)
    spec.description.output.extend(knn.spec.description.output)
    spec.description.predictedFeatureName = knn.spec.description.predictedFeatureName
    spec.description.predictedProbabilitiesName = knn.spec.description.predictedProbabilitiesName
    stages = spec.pipelineClassifier.pipeline.models
    stages.add().CopyFrom(network.spec)
    stages.add().CopyFrom(knn.spec)
    save_spec(spec, str(path))
