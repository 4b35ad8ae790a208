"""Core ML k-NN models evaluated in numpy straight from the .mlmodel protobuf, and Core ML's
validator rules for them, restated for the tests.

There is no Core ML runtime on Linux, so exported k-NN models are judged by this independent
reading of the file: KNearestNeighborsClassifier as Core ML documents it (the k nearest stored
samples by squared Euclidean distance, each voting for its label with weight 1 or 1/distance,
the default label when nothing is stored) and, for pipelines, a NeuralNetwork stage of the layer
kinds the tests use (inner product and ReLU). Core ML does not document how it breaks a tied
vote or a tie at the k-th distance; this reading takes the earlier stored sample and then the
smallest label, as scikit-learn does, and the tests use data where that choice is stated.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt


def predict(model: Any, inputs: dict[str, npt.NDArray[np.float32]]) -> list[str] | list[int]:
    """The predicted label of each row of the model's input(s)."""
    which = model.WhichOneof("Type")
    if which == "kNearestNeighborsClassifier":
        return _knn(model.kNearestNeighborsClassifier, inputs[model.description.input[0].name])
    front, knn = getattr(model, which).pipeline.models
    values = {**inputs, **_network(front.neuralNetwork, inputs)}
    return _knn(knn.kNearestNeighborsClassifier, values[knn.description.input[0].name])


def _network(network: Any, values: dict[str, npt.NDArray[np.float32]]) -> dict[str, npt.NDArray[np.float32]]:
    values = dict(values)
    for layer in network.layers:
        kind = layer.WhichOneof("layer")
        x = values[layer.input[0]].astype(np.float64)
        if kind == "innerProduct":
            body = layer.innerProduct
            weights = np.array(body.weights.floatValue).reshape(body.outputChannels, body.inputChannels)
            y = x @ weights.T + (np.array(body.bias.floatValue) if body.hasBias else 0.0)
        elif kind == "activation" and layer.activation.WhichOneof("NonlinearityType") == "ReLU":
            y = np.maximum(x, 0.0)
        else:
            raise NotImplementedError(f"the reference evaluates inner product and ReLU layers, not {kind}")
        values[layer.output[0]] = y.astype(np.float32)
    return values


def _knn(knn: Any, queries: npt.NDArray[np.float32]) -> list[str] | list[int]:
    which = knn.WhichOneof("ClassLabels")
    labels = list(getattr(knn, which).vector)
    default = getattr(knn, knn.WhichOneof("DefaultClassLabel"))
    samples = np.array([list(s.vector) for s in knn.nearestNeighborsIndex.floatSamples], np.float64)
    if not len(samples):
        return [default] * len(queries)
    k = min(int(knn.numberOfNeighbors.defaultValue), len(samples))
    inverse = knn.WhichOneof("WeightingScheme") == "inverseDistanceWeighting"
    predictions = []
    for query in queries.astype(np.float64):
        squared = ((samples - query) ** 2).sum(axis=1)
        nearest = np.argsort(squared, kind="stable")[:k]
        distance = np.sqrt(squared[nearest])
        if inverse and (distance == 0).any():
            weights = (distance == 0).astype(np.float64)
        elif inverse:
            weights = 1.0 / distance
        else:
            weights = np.ones(k)
        votes: dict[Any, float] = {}
        for index, weight in zip(nearest, weights, strict=True):
            votes[labels[index]] = votes.get(labels[index], 0.0) + weight
        best = max(votes.values())
        predictions.append(min(label for label, vote in votes.items() if vote == best))
    return predictions


def broken_knn_rules(model: Any) -> list[str]:
    """Core ML's rules for a k-NN model or a [neural network, k-NN] pipeline; [] if it holds."""
    broken: list[str] = []
    if model.specificationVersion < 4:
        broken.append("k-NN classifiers need specification version 4")
    which = model.WhichOneof("Type")
    if which == "kNearestNeighborsClassifier":
        return broken + _knn_rules(model)
    stages = list(getattr(model, which).pipeline.models)
    made = {feature.name for feature in model.description.input}
    for stage in stages:
        missing = [f.name for f in stage.description.input if f.name not in made]
        if missing:
            broken.append(f"pipeline stage reads {missing}, which no earlier stage produces")
        made |= {feature.name for feature in stage.description.output}
    if [f.name for f in model.description.output if f.name not in made]:
        broken.append("a pipeline output is produced by no stage")
    if model.isUpdatable:
        if not stages[-1].isUpdatable or any(stage.isUpdatable for stage in stages[:-1]):
            broken.append("an updatable pipeline trains its last model only, which must be updatable")
        names = {f.name for f in model.description.trainingInput}
        if model.description.predictedFeatureName not in names:
            broken.append("the pipeline's training inputs lack the true label")
    return broken + _knn_rules(stages[-1])


def _knn_rules(model: Any) -> list[str]:
    broken: list[str] = []
    knn = model.kNearestNeighborsClassifier
    index = knn.nearestNeighborsIndex
    dims = index.numberOfDimensions
    if dims <= 0:
        broken.append("numberOfDimensions must be positive")
    if index.WhichOneof("IndexType") is None or index.WhichOneof("DistanceFunction") is None:
        broken.append("an index type and a distance function are required")
    if knn.WhichOneof("WeightingScheme") is None:
        broken.append("a weighting scheme is required")
    which = knn.WhichOneof("ClassLabels")
    default = knn.WhichOneof("DefaultClassLabel")
    if which is None or default is None:
        broken.append("class labels and a default label are required")
    elif (which == "stringClassLabels") != (default == "defaultStringLabel"):
        broken.append("the default label's type differs from the class labels'")
    elif len(getattr(knn, which).vector) != len(index.floatSamples):
        broken.append("one label per sample")
    if any(len(sample.vector) != dims for sample in index.floatSamples):
        broken.append("every sample has numberOfDimensions values")
    k = knn.numberOfNeighbors
    allowed = k.WhichOneof("AllowedValues")
    if allowed == "range" and not (1 <= k.range.minValue <= k.defaultValue <= k.range.maxValue):
        broken.append("numberOfNeighbors' default lies outside its range (or below 1)")
    if allowed == "set" and (k.defaultValue not in k.set.values or min(k.set.values) < 1):
        broken.append("numberOfNeighbors' default is not in its set (or a value is below 1)")
    (feature,) = model.description.input
    if list(feature.type.multiArrayType.shape) != [dims]:
        broken.append("the input is a multi-array of numberOfDimensions values")
    if model.isUpdatable:
        names = [f.name for f in model.description.trainingInput]
        if names != [feature.name, model.description.predictedFeatureName]:
            broken.append("an updatable k-NN trains on its input feature and the true label")
    return broken
