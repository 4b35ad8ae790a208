"""BACKEND: the ort-training backend as the runtime sees it (see mlspec.backends.Backend)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from mlspec._proto import model_pb2
from mlspec.backends import Scalar
from mlspec.backends.ort_training.artifacts import NAME, write_artifacts
from mlspec.backends.ort_training.session import TrainingSession
from mlspec.convert.manifest import Manifest


class OrtTrainingBackend:
    name = NAME

    def write_artifacts(self, model: model_pb2.Model, out_dir: str | os.PathLike[str]) -> Manifest:
        return write_artifacts(model, out_dir)

    def open_session(
        self,
        artifact_dir: Path,
        *,
        hyperparameters: Mapping[str, Scalar] | None = None,
        checkpoint: Path | None = None,
    ) -> TrainingSession:
        return TrainingSession(artifact_dir, hyperparameters=hyperparameters, checkpoint=checkpoint)


BACKEND = OrtTrainingBackend()
