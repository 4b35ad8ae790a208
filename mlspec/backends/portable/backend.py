"""BACKEND: the portable backend as the runtime sees it (see mlspec.backends.Backend)."""

from __future__ import annotations

from mlspec.backends import AssembledBackend
from mlspec.backends.portable.artifacts import NAME, write_artifacts
from mlspec.backends.portable.session import PortableSession

BACKEND = AssembledBackend(NAME, write_artifacts, PortableSession)
