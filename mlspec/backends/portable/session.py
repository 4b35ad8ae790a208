"""PortableSession: the step model on stock onnxruntime, state held in two swapped OrtValue sets.

Each step binds set A's parameters and optimizer state as inputs and set B's buffers as the
outputs, runs the model once, and swaps the roles: the new values are written straight into
ONNX Runtime's buffers and never copied. Hyperparameters are scalar OrtValues updated in place
when they change (a schedule's learning rate); the step count is one too.
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
from mlspec.convert.manifest import Manifest, checked_anchor
from mlspec.spec.errors import MlspecError

INTERNAL_PROPERTY_PREFIX = "mlspec."


def _options() -> onnxruntime.SessionOptions:
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


def _scalar(value: float | bool, dtype: str) -> npt.NDArray[Any]:
    return np.array(
        bool(value) if dtype == "bool" else float(value), dtype=np.bool_ if dtype == "bool" else np.float32
    )


class PortableSession:
    """Training over portable artifacts (see mlspec.backends.Session)."""

    def __init__(
        self,
        artifact_dir: Path,
        *,
        hyperparameters: Mapping[str, float | int | bool] | None = None,
        checkpoint: Path | None = None,
    ) -> None:
        directory = Path(artifact_dir)
        self.manifest = Manifest.load(directory)
        overrides = self.manifest.checked_overrides(hyperparameters)
        self._loop = json.loads((directory / LOOP).read_text(encoding="utf-8"))
        state_path = Path(checkpoint) if checkpoint is not None else directory / STATE
        if not state_path.is_file():
            raise MlspecError(f"{state_path}: no such checkpoint file")
        tensors, meta = read_state(state_path)
        values: dict[str, Any] = {
            name: entry.default for name, entry in self.manifest.hyperparameters.items()
        }
        values.update(meta.get("hyperparameters", {}))
        values.update(overrides)
        self._values = values
        self._properties: dict[str, int | float | str] = dict(meta.get("properties", {}))
        self._steps = int(meta.get("step", 0))
        self._session = onnxruntime.InferenceSession(
            str(directory / STEP_MODEL), _options(), providers=["CPUExecutionProvider"]
        )
        self._eval = onnxruntime.InferenceSession(
            str(directory / EVAL_MODEL), _options(), providers=["CPUExecutionProvider"]
        )
        carried = [(pair["input"], pair["output"]) for pair in self._loop["carried"]]
        anchors = list(self._loop.get("anchors", []))
        missing = [name for name in [*(n for n, _ in carried), *anchors] if name not in tensors]
        if missing:
            raise MlspecError(f"{state_path}: holds no tensor {missing[0]!r}; it belongs to other artifacts")
        self._current = {name: onnxruntime.OrtValue.ortvalue_from_numpy(tensors[name]) for name, _ in carried}
        self._spare = {
            name: onnxruntime.OrtValue.ortvalue_from_numpy(np.empty_like(tensors[name]))
            for name, _ in carried
        }
        self._carried = carried
        self._anchors = {name: onnxruntime.OrtValue.ortvalue_from_numpy(tensors[name]) for name in anchors}
        self._hyper = {
            name: onnxruntime.OrtValue.ortvalue_from_numpy(_scalar(values[name], entry["dtype"]))
            for name, entry in self._loop["hyperparameters"].items()
        }
        self._step_value = onnxruntime.OrtValue.ortvalue_from_numpy(_scalar(self._steps, "float32"))
        trainable = [ref.name for ref in self.manifest.trainable]
        self._grads = {
            name: onnxruntime.OrtValue.ortvalue_from_numpy(np.empty_like(tensors[name])) for name in trainable
        }
        self._loss = onnxruntime.OrtValue.ortvalue_from_numpy(np.zeros((), dtype=np.float32))
        self._bindings = [
            self._binding(self._current, self._spare),
            self._binding(self._spare, self._current),
        ]
        self._which = 0
        # Trainable tensors, then batch-norm running statistics (carried too, but not trained).
        self._parameter_names = [ref.name for ref in (*self.manifest.trainable, *self.manifest.frozen)]
        self._learning_rate = float(values["learning_rate"])

    def _binding(self, source: dict[str, Any], target: dict[str, Any]) -> Any:
        binding = self._session.io_binding()
        for name, output in self._carried:
            binding.bind_ortvalue_input(name, source[name])
            binding.bind_ortvalue_output(output, target[name])
        for name, value in self._anchors.items():
            binding.bind_ortvalue_input(name, value)
        for name, entry in self._loop["hyperparameters"].items():
            binding.bind_ortvalue_input(entry["input"], self._hyper[name])
        if self._loop["step_input"]:
            binding.bind_ortvalue_input(self._loop["step_input"], self._step_value)
        for name, value in self._grads.items():
            binding.bind_ortvalue_output(f"{name}_grad", value)
        binding.bind_ortvalue_output(self._loop["loss_output"], self._loss)
        return binding

    @property
    def learning_rate(self) -> float:
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self._learning_rate = float(value)
        self._hyper["learning_rate"].update_inplace(_scalar(value, "float32"))

    def _batch(self, feeds: Mapping[str, npt.NDArray[np.generic]], order: list[str]) -> dict[str, Any]:
        try:
            return {name: feeds[name] for name in order}
        except KeyError as missing:
            raise MlspecError(
                f"feeds lack {missing.args[0]!r}; expected inputs: {', '.join(order)}"
            ) from None

    def train_step(self, feeds: Mapping[str, npt.NDArray[np.generic]]) -> float:
        """One step: the bound buffers of the current set are read, the other set's are written."""
        binding = self._bindings[self._which]
        for name, value in self._batch(feeds, self.manifest.feed_order).items():
            binding.bind_cpu_input(name, np.ascontiguousarray(value))
        self._steps += 1
        if self._loop["step_input"]:
            self._step_value.update_inplace(_scalar(self._steps, "float32"))
        self._session.run_with_iobinding(binding)
        self._which = 1 - self._which
        self._current, self._spare = self._spare, self._current
        return float(self._loss.numpy())

    def eval_step(
        self, feeds: Mapping[str, npt.NDArray[np.generic]]
    ) -> tuple[float, dict[str, npt.NDArray[np.generic]]]:
        batch = {
            name: onnxruntime.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(value))
            for name, value in self._batch(feeds, self.manifest.eval_feed_order).items()
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
        for key in properties:
            if key.startswith(INTERNAL_PROPERTY_PREFIX):
                raise MlspecError(
                    f"checkpoint property {key!r}: the prefix {INTERNAL_PROPERTY_PREFIX!r} is reserved"
                )
        target = Path(path)
        if not target.parent.is_dir():
            raise MlspecError(f"{target}: folder {target.parent} does not exist")
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
