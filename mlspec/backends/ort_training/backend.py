"""BACKEND: the ort-training backend as the runtime sees it (see mlspec.backends.Backend)."""

from __future__ import annotations

from mlspec.backends import AssembledBackend
from mlspec.backends.ort_training.artifacts import NAME, write_artifacts
from mlspec.backends.ort_training.session import TrainingSession

BACKEND = AssembledBackend(NAME, write_artifacts, TrainingSession)
