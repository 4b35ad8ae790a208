"""BACKEND: the portable backend as the runtime sees it (see mlspec.backends.Backend)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from mlspec._proto import model_pb2
from mlspec.backends import Scalar
from mlspec.backends.portable.artifacts import NAME, write_artifacts
from mlspec.backends.portable.session import PortableSession
from mlspec.convert.manifest import Manifest


class PortableBackend:
    name = NAME

    def write_artifacts(self, model: model_pb2.Model, out_dir: str | os.PathLike[str]) -> Manifest:
        return write_artifacts(model, out_dir)

    def open_session(
        self,
        artifact_dir: Path,
        *,
        hyperparameters: Mapping[str, Scalar] | None = None,
        checkpoint: Path | None = None,
    ) -> PortableSession:
        return PortableSession(artifact_dir, hyperparameters=hyperparameters, checkpoint=checkpoint)


BACKEND = PortableBackend()
