"""k-NN classifier rules: k and its allowed values, the stored examples, labels, features.

The feature extractor is checked as the network spec `extractor_model` makes of it, by the same
rules as any network.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mlspec._proto import knn_pb2, model_pb2, tensor_pb2
from mlspec.spec.errors import MlspecError, Problem
from mlspec.spec.hyper import constraint_problems
from mlspec.spec.knn import (
    DISTANCES,
    KNN,
    VOTE_TIES,
    WEIGHTINGS,
    example_labels,
    extractor_model,
    label_values,
)
from mlspec.spec.tensor_info import TensorInfo, tensor_type_info
from mlspec.spec.weights import checked_raw_data, numpy_dtype

NetworkCheck = Callable[[model_pb2.Model], list[Problem]]


def check(model: model_pb2.Model, network_problems: NetworkCheck) -> list[Problem]:
    """Every rule a k-NN model breaks: parameters, stored examples, labels, features, extractor."""
    knn = model.knn_classifier
    problems = _parameters(knn)
    problems += _stored(model)
    problems += _labels(model)
    problems += _outputs(model)
    extractor = extractor_model(model)
    if extractor is None:
        problems += _direct_input(model)
    else:
        # Its problems already name layers and inputs, which belong to this model as they are.
        problems += network_problems(extractor)
    return problems


def _parameters(knn: knn_pb2.KNearestNeighborsClassifier) -> list[Problem]:
    where = f"{KNN}.number_of_neighbors"
    problems: list[Problem] = []
    if knn.dimensions < 1:
        problems.append(
            Problem(f"{KNN}.dimensions", f"is {knn.dimensions}", "set it to the feature length (>= 1)")
        )
    if not knn.HasField("number_of_neighbors"):
        return [*problems, Problem(where, "is not set", "set k's default and its allowed range or set")]
    k = knn.number_of_neighbors
    problems += [
        Problem(where, text, "declare k >= 1 and a range or set holding it")
        for text in constraint_problems("k", k)
    ]
    low = k.range.min if k.WhichOneof("allowed") == "range" else min(k.set.values, default=1)
    if k.default_value < 1 or low < 1:
        problems.append(Problem(where, "allows k < 1", "every allowed k must be at least 1"))
    count = int(knn.examples.shape[0]) if knn.examples.shape else 0
    if 0 < count < k.default_value:
        problems.append(
            Problem(
                where,
                f"default k={k.default_value} exceeds the {count} stored examples",
                "add examples or lower k (predictions would use all stored examples)",
            )
        )
    for name, value, table in (
        ("distance", knn.distance, DISTANCES),
        ("weighting", knn.weighting, WEIGHTINGS),
        ("vote_tie", knn.vote_tie, VOTE_TIES),
    ):
        if value not in table.values():
            problems.append(Problem(f"{KNN}.{name}", f"{value} is unknown", f"use one of {', '.join(table)}"))
    return problems


def _stored(model: model_pb2.Model) -> list[Problem]:
    knn = model.knn_classifier
    problems: list[Problem] = []
    count = None
    for field, dtype, rank in (("examples", tensor_pb2.FLOAT32, 2), ("example_labels", tensor_pb2.INT32, 1)):
        tensor = getattr(knn, field)
        where = f"{KNN}.{field}"
        if not tensor.shape and not tensor.raw_data:
            continue
        if tensor.dtype != dtype or len(tensor.shape) != rank:
            expected = f"{numpy_dtype(dtype)} with {rank} dimension{'s' if rank > 1 else ''}"
            problems.append(
                Problem(
                    where, f"has dtype {tensor.dtype} and shape {list(tensor.shape)}", f"store {expected}"
                )
            )
            continue
        try:
            checked_raw_data(tensor, where)
        except MlspecError as error:
            problems.append(
                Problem(where, str(error).removeprefix(f"{where}: "), "store exactly shape's values")
            )
            continue
        if field == "examples" and tensor.shape[1] != knn.dimensions:
            problems.append(
                Problem(
                    where,
                    f"holds vectors of {tensor.shape[1]} values; dimensions is {knn.dimensions}",
                    "store [count, dimensions]",
                )
            )
        count = tensor.shape[0] if count is None else count
        if tensor.shape[0] != count:
            problems.append(
                Problem(
                    where,
                    f"has {tensor.shape[0]} labels for {count} examples",
                    "give every example one label",
                )
            )
    return problems


def _labels(model: model_pb2.Model) -> list[Problem]:
    which = model.classifier.WhichOneof("labels")
    if which is None:
        return [
            Problem("classifier.labels", "is not set", "declare string_labels or int64_labels (may be empty)")
        ]
    problems: list[Problem] = []
    labels = label_values(model)
    if len(set(labels)) != len(labels):
        problems.append(Problem("classifier.labels", "has duplicate labels", "list each label once"))
    default_kind = model.knn_classifier.WhichOneof("default_label")
    expected = "default_string_label" if which == "string_labels" else "default_int64_label"
    if default_kind != expected:
        problems.append(
            Problem(
                f"{KNN}.default_label",
                f"is {default_kind or 'not set'}",
                f"set {expected}: what an empty model predicts",
            )
        )
    try:
        indices = example_labels(model)
    except MlspecError:
        return problems
    bad = np.flatnonzero((indices < 0) | (indices >= len(labels)))
    if bad.size:
        problems.append(
            Problem(
                f"{KNN}.example_labels[{bad[0]}]",
                f"is {indices[bad[0]]}, outside the {len(labels)} labels",
                "store indices into classifier.labels",
            )
        )
    return problems


def _outputs(model: model_pb2.Model) -> list[Problem]:
    names = {feature.name for feature in model.description.outputs}
    problems: list[Problem] = []
    for field in ("predicted_feature_name", "predicted_probabilities_name"):
        value = getattr(model.classifier, field)
        if not value or value not in names:
            problems.append(
                Problem(
                    f"classifier.{field}",
                    f"{value!r} is not a declared output",
                    "declare it among description.outputs",
                )
            )
    return problems


def _direct_input(model: model_pb2.Model) -> list[Problem]:
    knn = model.knn_classifier
    for feature in model.description.inputs:
        if feature.name == knn.feature_name:
            info: TensorInfo = tensor_type_info(feature.type.tensor)
            if (
                feature.type.WhichOneof("kind") == "tensor"
                and info.dims is not None
                and info.dims[1:] == (knn.dimensions,)
            ):
                return []
            return [
                Problem(
                    f"inputs[{feature.name!r}]",
                    f"is {info}, not [batch, {knn.dimensions}]",
                    "compare a float vector input of knn_classifier.dimensions values",
                )
            ]
    return [
        Problem(
            f"{KNN}.feature_name",
            f"{knn.feature_name!r} is not a model input",
            "name an input, or add a feature extractor",
        )
    ]
