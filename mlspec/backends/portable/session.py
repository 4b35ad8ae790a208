"""PortableSession: the step model on stock onnxruntime, state held in two swapped OrtValue sets.

Each step binds set A's parameters and optimizer state as inputs and set B's buffers as the
outputs, runs the model once, and swaps the roles: the new values are written straight into
ONNX Runtime's buffers and never copied. The two bindings are made once, the batch's input
buffers included; a step copies the batch into those. The scalars a step reads or writes
(hyperparameters, the step count, the loss) are OrtValues over numpy scalars the session
keeps, so changing the learning rate or reading the loss is a plain numpy access, with no call
into ONNX Runtime (tools/bench/binding_overhead.py measures what a step costs beyond the run).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime

from mlspec.backends.portable.artifacts import EVAL_MODEL, LOOP, STATE, STEP_MODEL
from mlspec.backends.portable.state import read_state, write_state
from mlspec.backends.shared import (
    ArtifactSession,
    Opening,
    checked_checkpoint_target,
    checked_properties,
    ordered_feeds,
    session_options,
)
from mlspec.convert.manifest import checked_anchor
from mlspec.spec.errors import MlspecError

INTERNAL_PROPERTY_PREFIX = "mlspec."
STEP, LOSS = " step", " loss"  # keys beside the hyperparameters' names, which hold no space
_DTYPES = {"bool": np.bool_, "float32": np.float32}


def _ort_value(array: npt.NDArray[Any]) -> Any:
    """An OrtValue over `array`'s own memory (kept alive by the session that keeps `array`)."""
    return onnxruntime.OrtValue.ortvalue_from_numpy(array)


class PortableSession(ArtifactSession):
    """Training over portable artifacts (see mlspec.backends.Session)."""

    INITIAL_STATE = STATE

    def _open(self, opening: Opening) -> None:
        directory, state_path = opening.directory, opening.state_path
        self._loop = loop = json.loads((directory / LOOP).read_text(encoding="utf-8"))
        tensors, meta = read_state(state_path)
        values: dict[str, Any] = {
            name: entry.default for name, entry in self.manifest.hyperparameters.items()
        }
        values.update(meta.get("hyperparameters", {}))
        values.update(opening.overrides)
        self._values = values
        self._properties: dict[str, int | float | str] = dict(meta.get("properties", {}))
        self._steps = int(meta.get("step", 0))
        self._session = onnxruntime.InferenceSession(
            str(directory / STEP_MODEL), session_options(), providers=["CPUExecutionProvider"]
        )
        self._eval = onnxruntime.InferenceSession(
            str(directory / EVAL_MODEL), session_options(), providers=["CPUExecutionProvider"]
        )
        self._carried = [(pair["input"], pair["output"]) for pair in loop["carried"]]
        anchors = list(loop.get("anchors", []))
        missing = [name for name in [*(n for n, _ in self._carried), *anchors] if name not in tensors]
        if missing:
            raise MlspecError(f"{state_path}: holds no tensor {missing[0]!r}; it belongs to other artifacts")
        self._current = {name: _ort_value(tensors[name]) for name, _ in self._carried}
        self._spare = {name: _ort_value(np.empty_like(tensors[name])) for name, _ in self._carried}
        self._anchors = {name: _ort_value(tensors[name]) for name in anchors}
        # Numpy scalars the bound OrtValues share memory with: written and read without ORT calls.
        self._scalars: dict[str, npt.NDArray[Any]] = {
            name: np.array(values[name], dtype=_DTYPES[entry["dtype"]])
            for name, entry in loop["hyperparameters"].items()
        }
        self._step_count = np.array(self._steps, dtype=np.float32)
        self._loss = np.zeros((), dtype=np.float32)
        self._scalar_values = {
            **{name: _ort_value(array) for name, array in self._scalars.items()},
            STEP: _ort_value(self._step_count),
            LOSS: _ort_value(self._loss),
        }
        self._grads = {
            ref.name: _ort_value(np.empty_like(tensors[ref.name])) for ref in self.manifest.trainable
        }
        self._feed_order = list(self.manifest.feed_order)
        self._bindings = [
            self._binding(self._current, self._spare),
            self._binding(self._spare, self._current),
        ]
        self._which = 0
        self._batch: dict[str, npt.NDArray[Any]] = {}  # the bound input buffers a step copies into
        self._batch_values: dict[str, Any] = {}
        # Trainable tensors, then batch-norm running statistics (carried too, but not trained).
        self._parameter_names = [ref.name for ref in (*self.manifest.trainable, *self.manifest.frozen)]
        self.learning_rate = float(values["learning_rate"])

    def _binding(self, source: dict[str, Any], target: dict[str, Any]) -> Any:
        """The IO binding that reads `source` and writes `target`; every input but the batch is bound."""
        loop = self._loop
        binding = self._session.io_binding()
        for name, output in self._carried:
            binding.bind_ortvalue_input(name, source[name])
            binding.bind_ortvalue_output(output, target[name])
        for name, value in self._anchors.items():
            binding.bind_ortvalue_input(name, value)
        for name, entry in loop["hyperparameters"].items():
            binding.bind_ortvalue_input(entry["input"], self._scalar_values[name])
        if loop["step_input"]:
            binding.bind_ortvalue_input(loop["step_input"], self._scalar_values[STEP])
        for name, value in self._grads.items():
            binding.bind_ortvalue_output(f"{name}_grad", value)
        binding.bind_ortvalue_output(loop["loss_output"], self._scalar_values[LOSS])
        return binding

    def _bind_batch(self, name: str, buffer: npt.NDArray[Any]) -> npt.NDArray[Any]:
        self._batch[name] = buffer
        self._batch_values[name] = value = _ort_value(buffer)
        for binding in self._bindings:
            binding.bind_ortvalue_input(name, value)
        return buffer

    def _use_learning_rate(self, value: float) -> None:
        self._scalars["learning_rate"][...] = value

    def train_step(self, feeds: Mapping[str, npt.ArrayLike]) -> float:
        """One step: the bound buffers of the current set are read, the other set's are written.

        Any array-like feed is taken (a list too): what is not an ndarray goes through np.asarray.

        The batch is copied into input buffers bound once (a copy of a batch costs less than
        one call to rebind it, up to tens of kilobytes); a batch of another shape or dtype (the
        last, shorter one of an epoch) gets buffers of its own, bound to both bindings. The
        loop is written for the common case, numpy arrays matching the buffers: a slice
        assignment and no temporary list (tools/bench/binding_overhead.py).
        """
        batch = self._batch
        for name in self._feed_order:
            given = feeds.get(name)
            if given is None:
                ordered_feeds(feeds, self._feed_order)  # raises, naming what is missing
            value = given if type(given) is np.ndarray else np.asarray(given)
            buffer = batch.get(name)
            if buffer is None or buffer.shape != value.shape or buffer.dtype != value.dtype:
                buffer = self._bind_batch(name, np.empty_like(value, order="C"))
            buffer[...] = value
        self._steps += 1
        self._step_count[...] = self._steps
        self._session.run_with_iobinding(self._bindings[self._which])
        self._which = 1 - self._which
        self._current, self._spare = self._spare, self._current
        return float(self._loss)

    def eval_step(
        self, feeds: Mapping[str, npt.NDArray[np.generic]]
    ) -> tuple[float, dict[str, npt.NDArray[np.generic]]]:
        order = self.manifest.eval_feed_order
        batch = {
            name: _ort_value(np.ascontiguousarray(value))
            for name, value in zip(order, ordered_feeds(feeds, order), strict=True)
        }
        batch.update({name: self._current[name] for name in self._parameter_names})
        names = self.manifest.eval_outputs
        outputs = self._eval.run_with_ort_values(names, batch)
        values = [value.numpy() for value in outputs]
        return float(values[0]), dict(zip(names[1:], values[1:], strict=True))

    def parameters(self) -> dict[str, npt.NDArray[np.float32]]:
        return {name: np.array(self._current[name].numpy()) for name in self._parameter_names}

    def gradients(self) -> dict[str, npt.NDArray[np.float32]]:
        """The raw gradients of the last step (before clipping and decay, unlike ort-training's)."""
        return {name: np.array(value.numpy()) for name, value in self._grads.items()}

    def set_proximal_anchor(self, weights: Mapping[str, npt.NDArray[np.generic]]) -> None:
        shapes = {name: tuple(value.shape()) for name, value in self._anchors.items()}
        for name, value in checked_anchor(self.manifest, weights, shapes).items():
            self._anchors[name].update_inplace(value)

    def save_checkpoint(self, path: Path, properties: Mapping[str, int | float | str]) -> None:
        checked_properties(properties, INTERNAL_PROPERTY_PREFIX)
        target = checked_checkpoint_target(path)
        tensors = {name: self._current[name].numpy() for name, _ in self._carried}
        tensors.update({name: value.numpy() for name, value in self._anchors.items()})
        tunable = {name: self._values[name] for name in self._loop["hyperparameters"]}
        tunable["learning_rate"] = self._learning_rate
        meta = {
            "step": self._steps,
            "hyperparameters": tunable,
            "properties": {**self._properties, **properties},
        }
        write_state(target, tensors, meta)

    def checkpoint_properties(self) -> dict[str, int | float | str]:
        return dict(self._properties)
