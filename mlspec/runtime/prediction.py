"""Predictions straight from a spec, updatable or not.

Prediction needs only the inference model, so a model just imported (nothing updatable yet) can
be checked on the user's own data before anything trains. The data goes through the same
reading and pixel preprocessing as in training (`as_source` with the spec's input features),
and the outputs are what `Trainer.predict` returns for a trainer fresh from the same spec.
"""

from __future__ import annotations

from typing import Any

import numpy.typing as npt

from mlspec._proto import model_pb2
from mlspec.backends.inference import InferenceModel
from mlspec.convert import to_onnx
from mlspec.runtime.data import as_source
from mlspec.runtime.evaluation import predict_source
from mlspec.runtime.features import spec_input_features
from mlspec.spec.validate import validate


def predict_spec(spec: model_pb2.Model, data: object) -> dict[str, npt.NDArray[Any]]:
    """Every output of the spec's inference model over `data` (any form `Trainer.predict` takes)."""
    validate(spec)
    source = as_source(data, spec_input_features(spec), where="prediction data")
    return predict_source(InferenceModel(to_onnx(spec).SerializeToString()).run, source)
