"""Inference on stock onnxruntime.InferenceSession: what every backend's inference model runs on.

Stock inference needs nothing from a training package, so it lives beside the backends rather
than inside one; it is imported only by the commands and runtime calls that predict.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

import numpy as np
import onnxruntime


class InferenceModel:
    """An onnxruntime.InferenceSession returning outputs by name, for the runtime's predict."""

    def __init__(self, model: str | os.PathLike[str] | bytes) -> None:
        source = model if isinstance(model, bytes) else os.fspath(model)
        self._session = onnxruntime.InferenceSession(source, providers=["CPUExecutionProvider"])
        self.output_names = [output.name for output in self._session.get_outputs()]
        self.input_names = [value.name for value in self._session.get_inputs()]

    def run(self, feeds: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        values = self._session.run(self.output_names, dict(feeds))
        return dict(zip(self.output_names, values, strict=True))


def run_inference(
    model: str | os.PathLike[str] | bytes, feeds: Mapping[str, np.ndarray]
) -> dict[str, np.ndarray]:
    return InferenceModel(model).run(feeds)
