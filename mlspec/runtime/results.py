"""What a run hands back: its outcome, and the trained weights written into a copy of the spec.

Core ML discards the updated model when a task is cancelled; here the outcome records how the
run ended while the weights of every completed step stay available for `updated_model()`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy.typing as npt

from mlspec._proto import model_pb2
from mlspec.spec.errors import MlspecError, layer_ref
from mlspec.spec.kinds import layer_tensors
from mlspec.spec.weights import numpy_dtype, set_tensor

Status = Literal["completed", "cancelled", "stopped"]


@dataclass(frozen=True)
class TrainingResult:
    """How a call to `Trainer.train` ended.

    `cancelled`: `Trainer.cancel()` was called; `stopped`: a callback asked to stop. Either way
    the weights after the last completed step are kept.
    """

    status: Status
    epochs_completed: int
    steps: int
    learning_rate: float
    # Mean loss over each completed epoch's examples, including epochs before a resume.
    epoch_losses: list[float] = field(default_factory=list)
    validation_losses: list[float] = field(default_factory=list)
    validation_accuracies: list[float] = field(default_factory=list)
    resumed_from_epoch: int | None = None

    @property
    def cancelled(self) -> bool:
        return self.status == "cancelled"


@dataclass(frozen=True)
class EvaluationResult:
    loss: float
    # For classifiers: fraction of examples whose most probable class is the true one.
    accuracy: float | None
    count: int
    # For classifiers: counts by [true class][predicted class], in the model's class order.
    confusion: list[list[int]] | None = None

    def per_class_accuracy(self) -> list[float | None]:
        """Each class's recall: the fraction of its examples predicted as it (None without examples)."""
        if self.confusion is None:
            return []
        return [row[index] / sum(row) if sum(row) else None for index, row in enumerate(self.confusion)]


def write_back(spec: model_pb2.Model, parameters: Mapping[str, npt.NDArray[Any]]) -> model_pb2.Model:
    """A copy of `spec` whose weights named "{layer}.{field}" take the given values.

    `parameters` holds the trained and running-statistic tensors (never generic-node constants,
    which stay frozen in the graph). Each tensor keeps its stored dtype (a float16 spec stays
    float16) and its updatable flag. A name the spec lacks means the artifacts came from another
    spec, and nothing is written.
    """
    updated = model_pb2.Model()
    updated.CopyFrom(spec)
    remaining = dict(parameters)
    for layer in updated.network.layers:
        for field_name, tensor in layer_tensors(layer):
            name = f"{layer.name}.{field_name}"
            if name not in remaining:
                continue
            values = remaining.pop(name)
            if tuple(values.shape) != tuple(tensor.shape):
                raise MlspecError(
                    f"{layer_ref(layer.name)}.{field_name}: trained value has shape {tuple(values.shape)}, "
                    f"the spec holds {tuple(tensor.shape)}; the artifacts were built from a different spec"
                )
            set_tensor(tensor, values, dtype=numpy_dtype(tensor.dtype))
    if remaining:
        unknown = ", ".join(sorted(remaining)[:5])
        raise MlspecError(
            f"trained weights {unknown} have no tensor in the spec; the artifacts belong to another spec"
        )
    return updated
