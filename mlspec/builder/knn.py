"""Building and updating k-NN classifier specs.

Updating a k-NN model is adding examples, so `KnnClassifier` keeps the examples in growable
numpy buffers (capacity doubles when full): adding n examples costs O(n) however many are
already stored, and the spec's one raw tensor is written when `.spec` is read. New labels are
appended to the label set; the vote's tie rule (`vote_tie`) rather than the set's order decides
ties, so appending never renumbers stored examples.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from mlspec._proto import model_pb2, tensor_pb2
from mlspec.spec import knn as spec_knn
from mlspec.spec.errors import SpecEditError
from mlspec.spec.hyper import Allowed, constraint_problems, int_parameter
from mlspec.spec.io import SPEC_VERSION
from mlspec.spec.tensor_info import BATCH, set_dims
from mlspec.spec.weights import set_tensor

LabelKind = str  # "string" or "int64"


class KnnClassifier:
    """A k-NN classifier spec under construction or update.

    Wrap an existing spec with `KnnClassifier(model)` (the model is copied, never changed), or
    start one with `KnnClassifier.new(...)`. Examples given here are feature vectors, i.e. what
    the feature extractor outputs; `mlspec.runtime.knn.add_examples` runs the extractor first.
    """

    def __init__(self, model: model_pb2.Model) -> None:
        spec_knn.require_knn(model, "KnnClassifier")
        self._model = model_pb2.Model()
        self._model.CopyFrom(model)
        self._dims = int(model.knn_classifier.dimensions)
        stored = spec_knn.examples(model)
        self._count = int(stored.shape[0])
        # Headroom, so that a few adds to a large loaded model do not copy it at once.
        self._examples = np.empty((self._count + max(self._count // 4, 1024), self._dims), np.float32)
        self._examples[: self._count] = stored
        self._labels = np.empty(self._examples.shape[0], np.int32)
        self._labels[: self._count] = spec_knn.example_labels(model)
        self._label_values = spec_knn.label_values(model)
        self._index = {value: i for i, value in enumerate(self._label_values)}
        for field in ("examples", "example_labels"):
            self._model.knn_classifier.ClearField(field)

    @classmethod
    def new(
        cls,
        *,
        dimensions: int,
        label_kind: LabelKind = "string",
        default_label: str | int | None = None,
        k: int = 3,
        k_allowed: Allowed = (1, 10),
        distance: str = "euclidean",
        weighting: str = "uniform",
        vote_tie: str = "smallest_label",
        feature_extractor: model_pb2.Model | None = None,
        feature_name: str | None = None,
        input_name: str = "features",
        predicted_feature_name: str = "label",
        probabilities_name: str = "probabilities",
    ) -> KnnClassifier:
        """A k-NN spec with no examples yet.

        With `feature_extractor` (any network spec; its training settings are dropped and it is
        frozen), the model takes the extractor's inputs and compares the extractor's output
        `feature_name` (default: its first output); without one it compares `input_name`, a
        float vector of `dimensions` values.
        """
        if label_kind not in ("string", "int64"):
            raise SpecEditError(f"label_kind={label_kind!r} is not allowed; use 'string' or 'int64'")
        model = model_pb2.Model(spec_version=SPEC_VERSION, is_updatable=True)
        knn = model.knn_classifier
        knn.dimensions = int(dimensions)
        knn.number_of_neighbors.CopyFrom(int_parameter(k, k_allowed))
        knn.distance = _choice("distance", distance, spec_knn.DISTANCES)  # type: ignore[assignment]
        knn.weighting = _choice("weighting", weighting, spec_knn.WEIGHTINGS)  # type: ignore[assignment]
        knn.vote_tie = _choice("vote_tie", vote_tie, spec_knn.VOTE_TIES)  # type: ignore[assignment]
        problems = constraint_problems("k", knn.number_of_neighbors)
        if problems or k < 1:
            raise SpecEditError(
                f"knn_classifier.number_of_neighbors: {'; '.join(problems) or 'k must be >= 1'}"
            )
        if label_kind == "string":
            model.classifier.string_labels.SetInParent()
            knn.default_string_label = "" if default_label is None else str(default_label)
        else:
            model.classifier.int64_labels.SetInParent()
            knn.default_int64_label = -1 if default_label is None else int(default_label)
        if feature_extractor is None:
            knn.feature_name = input_name
            feature = model.description.inputs.add(name=input_name)
            feature.type.tensor.dtype = tensor_pb2.FLOAT32
            set_dims(feature.type.tensor, [BATCH, int(dimensions)])
        else:
            knn.feature_name = feature_name or feature_extractor.description.outputs[0].name
            model.description.inputs.extend(feature_extractor.description.inputs)
            model.network.CopyFrom(feature_extractor.network)
            for layer in model.network.layers:
                layer.is_updatable = False
            model.metadata.CopyFrom(feature_extractor.metadata)
        _describe_outputs(model, predicted_feature_name, probabilities_name)
        return cls(model)

    @property
    def count(self) -> int:
        return int(self._count)

    @property
    def labels(self) -> spec_knn.Labels:
        return list(self._label_values)

    def add_examples(self, features: npt.ArrayLike, labels: Sequence[str | int] | npt.ArrayLike) -> None:
        """Append feature vectors [n, dimensions] with their labels; new labels join the label set."""
        vectors = np.asarray(features, dtype=np.float32)
        if vectors.ndim == 1:
            vectors = vectors[None]
        values = list(np.asarray(labels).reshape(-1).tolist())
        if vectors.ndim != 2 or vectors.shape[1] != self._dims:
            raise SpecEditError(
                f"examples have shape {list(vectors.shape)}; this model stores vectors of {self._dims} values"
            )
        if len(values) != vectors.shape[0]:
            raise SpecEditError(f"{vectors.shape[0]} examples but {len(values)} labels; give one label each")
        if not np.isfinite(vectors).all():
            row = int(np.flatnonzero(~np.isfinite(vectors).all(axis=1))[0])
            raise SpecEditError(f"example {row} holds a non-finite value; examples must be finite")
        indices = np.array([self._label_index(value) for value in values], np.int32)
        self._reserve(self._count + len(values))
        self._examples[self._count : self._count + len(values)] = vectors
        self._labels[self._count : self._count + len(values)] = indices
        self._count += len(values)

    def remove_examples(self, labels: Sequence[str | int]) -> int:
        """Drop every example with one of `labels` (they stay in the label set); returns how many."""
        unknown = [value for value in labels if self._coerce(value) not in self._index]
        if unknown:
            shown = ", ".join(repr(v) for v in self._label_values[:10])
            raise SpecEditError(f"label {unknown[0]!r} is not in the model; its labels are {shown or 'none'}")
        drop = np.isin(self._labels[: self._count], [self._index[self._coerce(v)] for v in labels])
        keep = np.flatnonzero(~drop)
        self._examples[: keep.size] = self._examples[keep]
        self._labels[: keep.size] = self._labels[keep]
        removed = self._count - keep.size
        self._count = int(keep.size)
        return int(removed)

    @property
    def spec(self) -> model_pb2.Model:
        """A new Model holding everything added so far."""
        model = model_pb2.Model()
        model.CopyFrom(self._model)
        knn = model.knn_classifier
        set_tensor(knn.examples, self._examples[: self._count])
        set_tensor(knn.example_labels, self._labels[: self._count])
        field = (
            model.classifier.string_labels
            if spec_knn.has_string_labels(model)
            else model.classifier.int64_labels
        )
        del field.values[:]
        field.values.extend(self._label_values)  # type: ignore[arg-type]
        return model

    def _coerce(self, value: str | int) -> str | int:
        return str(value) if spec_knn.has_string_labels(self._model) else int(value)

    def _label_index(self, value: str | int) -> int:
        if spec_knn.has_string_labels(self._model):
            if not isinstance(value, str):
                raise SpecEditError(f"label {value!r} is not a string; this model has string labels")
        elif isinstance(value, str | float):
            raise SpecEditError(f"label {value!r} is not an integer; this model has int64 labels")
        index = self._index.get(value)
        if index is None:
            index = len(self._label_values)
            self._label_values.append(value)
            self._index[value] = index
        return index

    def _reserve(self, needed: int) -> None:
        capacity = self._examples.shape[0]
        if needed <= capacity:
            return
        capacity = max(needed, 2 * capacity)
        grown = np.empty((capacity, self._dims), np.float32)
        grown[: self._count] = self._examples[: self._count]
        labels = np.empty(capacity, np.int32)
        labels[: self._count] = self._labels[: self._count]
        self._examples, self._labels = grown, labels


def _choice(field: str, value: str, table: Mapping[str, int]) -> int:
    if value not in table:
        raise SpecEditError(
            f"knn_classifier.{field}: {value!r} is not allowed; use one of {', '.join(table)}"
        )
    return table[value]


def _describe_outputs(model: model_pb2.Model, label_name: str, probabilities_name: str) -> None:
    model.classifier.predicted_feature_name = label_name
    model.classifier.predicted_probabilities_name = probabilities_name
    label = model.description.outputs.add(name=label_name)
    if spec_knn.has_string_labels(model):
        label.type.string_type.SetInParent()
    else:
        label.type.int64_type.SetInParent()
    probabilities = model.description.outputs.add(name=probabilities_name)
    probabilities.type.tensor.dtype = tensor_pb2.FLOAT32
    set_dims(probabilities.type.tensor, [BATCH, None])
