"""Updating a k-NN classifier: run new examples through the frozen feature extractor, store them.

This is the k-NN side of MLUpdateTask. It takes the same data as `Trainer.train` (arrays, .npz
paths, batch providers, and whatever else `as_source` learns to read), keyed by the model's
inputs plus a label feature; the extractor runs in ONNX Runtime on batches so a large data set
never sits in memory twice.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mlspec._proto import model_pb2
from mlspec.backends.inference import InferenceModel
from mlspec.builder.knn import KnnClassifier
from mlspec.convert.graph import to_onnx
from mlspec.runtime.data import as_source
from mlspec.runtime.features import FeatureSpec, spec_input_features
from mlspec.spec import knn as spec_knn

_BATCH = 256


def input_features(model: model_pb2.Model, label_name: str) -> list[FeatureSpec]:
    """The model's inputs, then the label (string or int64, any value: new labels are welcome)."""
    features = spec_input_features(model)
    label_dtype = np.dtype(np.str_) if spec_knn.has_string_labels(model) else np.dtype(np.int64)
    features.append(FeatureSpec(label_name, "target", label_dtype, ()))
    return features


def add_examples(model: model_pb2.Model, data: object, *, label_name: str = "label") -> model_pb2.Model:
    """A copy of the k-NN `model` holding `data`'s examples too; `model` is not changed."""
    spec_knn.require_knn(model, "add_examples")
    features = input_features(model, label_name)
    source = as_source(data, features, where="examples")
    extractor = spec_knn.extractor_model(model)
    session = None if extractor is None else InferenceModel(to_onnx(extractor).SerializeToString())
    name = model.knn_classifier.feature_name
    builder = KnnClassifier(model)
    for start in range(0, len(source), _BATCH):
        batch = source.batch(slice(start, start + _BATCH))
        labels = batch.pop(label_name)
        vectors = batch[name] if session is None else session.run(batch)[name]
        builder.add_examples(vectors, labels)
    return builder.spec


def remove_examples(model: model_pb2.Model, labels: Sequence[str | int]) -> tuple[model_pb2.Model, int]:
    """A copy of `model` without the examples of `labels`, and how many were removed."""
    builder = KnnClassifier(model)
    removed = builder.remove_examples(labels)
    return builder.spec, removed
