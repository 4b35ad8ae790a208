"""Backend names as pytest parameters: the ort-training one carries the `ort_training` mark, so it
skips (saying why) where onnxruntime-training is not installed and runs everywhere else."""

from __future__ import annotations

from typing import Any

import pytest

from mlspec.backends import NAMES

BACKENDS: list[Any] = [
    pytest.param(name, marks=pytest.mark.ort_training) if name == "ort-training" else name for name in NAMES
]
