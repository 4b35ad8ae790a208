"""TrainingSession: the ort-training backend's session over an artifacts directory.

Its hot path (`train_step`) is one Module call, Optimizer.step and lazy_reset_grad, plus one
state assignment per batch-norm statistic: every optimizer detail ORT lacks already runs inside
the training graph (see convert/optimizers.py).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from mlspec.backends.ort_training.ort import (
    OPTIMIZER_MODEL,
    build_optimizer_model,
    ort_api,
    training_session_options,
)
from mlspec.backends.shared import (
    ArtifactSession,
    Opening,
    checked_checkpoint_target,
    checked_properties,
    ordered_feeds,
)
from mlspec.convert.manifest import checked_anchor
from mlspec.convert.optimizers import hyper_value, optimizer_model_settings
from mlspec.spec.atomic import write_with_atomic

LR_PROPERTY = "mlspec.learning_rate"
SETTING_PROPERTY_PREFIX = "mlspec.setting."
INTERNAL_PROPERTY_PREFIX = "mlspec."


class TrainingSession(ArtifactSession):
    """Training over an artifacts directory with PyTorch optimizer semantics.

    Hyperparameter precedence: an explicit override, then the value saved in the checkpoint
    being resumed, then the manifest default. Optimizer settings and the learning rate live in
    checkpoint properties because ORT forgets the learning rate on reload and never stores the
    settings baked into optimizer_model.onnx.
    """

    INITIAL_STATE = "checkpoint"

    def _open(self, opening: Opening) -> None:
        directory, overrides = opening.directory, opening.overrides
        self._state = ort_api.CheckpointState.load_checkpoint(os.fspath(opening.state_path))
        self._module = ort_api.Module(
            os.fspath(directory / "training_model.onnx"),
            self._state,
            os.fspath(directory / "eval_model.onnx"),
            session_options=training_session_options(),
        )
        values = self._effective_values(overrides)
        self._apply_graph_settings(values)
        self._scratch: tempfile.TemporaryDirectory[str] | None = None
        self._optimizer = ort_api.Optimizer(os.fspath(self._optimizer_model(directory, values)), self._module)
        self.learning_rate = float(values["learning_rate"])
        self._feed_order = list(self.manifest.feed_order)
        self._eval_feed_order = list(self.manifest.eval_feed_order)
        self._writeback = [(w.parameter, w.output_index) for w in self.manifest.running_stat_writeback]
        self._single_output = not self.manifest.training_outputs
        self._weights = [p.name for p in (*self.manifest.trainable, *self.manifest.frozen)]

    def _effective_values(self, overrides: Mapping[str, Any]) -> dict[str, Any]:
        properties = self._state.properties
        values: dict[str, Any] = {
            name: entry.default for name, entry in self.manifest.hyperparameters.items()
        }
        for name in values:
            key = SETTING_PROPERTY_PREFIX + name
            if key in properties:
                values[name] = properties[key]
        if LR_PROPERTY in properties:
            values["learning_rate"] = properties[LR_PROPERTY]
        values.update(overrides)
        baked = optimizer_model_settings(self.manifest.optimizer.kind, values)
        tracked = [*self.manifest.optimizer.graph_settings, *baked]
        for name in tracked:
            properties[SETTING_PROPERTY_PREFIX + name] = float(values[name])
        return values

    def _apply_graph_settings(self, values: Mapping[str, Any]) -> None:
        for name, parameter in self.manifest.optimizer.graph_settings.items():
            self._state.parameters[parameter] = hyper_value(values[name])

    def _optimizer_model(self, directory: Path, values: Mapping[str, Any]) -> Path:
        settings = optimizer_model_settings(self.manifest.optimizer.kind, values)
        if settings == self.manifest.optimizer.model_settings:
            return directory / OPTIMIZER_MODEL
        shipped = onnx.load(os.fspath(directory / OPTIMIZER_MODEL))
        opset = next(o.version for o in shipped.opset_import if o.domain in ("", "ai.onnx"))
        self._scratch = tempfile.TemporaryDirectory(prefix="mlspec-optimizer-")
        path = Path(self._scratch.name) / OPTIMIZER_MODEL
        onnx.save(build_optimizer_model(self.manifest.optimizer.ort_kind, settings, opset), os.fspath(path))
        return path

    def _use_learning_rate(self, value: float) -> None:
        self._optimizer.set_learning_rate(value)

    def train_step(self, feeds: Mapping[str, np.ndarray]) -> float:
        """Forward, backward, optimizer step, gradient reset and running-statistic write-back."""
        outputs = self._module(*ordered_feeds(feeds, self._feed_order))
        self._optimizer.step()
        self._module.lazy_reset_grad()
        if self._single_output:
            return float(outputs)
        parameters = self._state.parameters
        for name, index in self._writeback:
            parameters[name] = outputs[index]
        return float(outputs[0])

    def eval_step(self, feeds: Mapping[str, np.ndarray]) -> tuple[float, dict[str, np.ndarray]]:
        self._module.eval()
        try:
            outputs = self._module(*ordered_feeds(feeds, self._eval_feed_order))
        finally:
            self._module.train()
        if isinstance(outputs, np.ndarray):
            return float(outputs), {}
        names = self.manifest.eval_outputs[1:]
        return float(outputs[0]), dict(zip(names, outputs[1:], strict=True))

    def parameters(self) -> dict[str, np.ndarray]:
        state = self._state.parameters
        return {name: np.array(state[name].data) for name in self._weights}

    def gradients(self) -> dict[str, np.ndarray]:
        """The gradients the last train_step handed to the optimizer (after clipping, decay, momentum)."""
        state = self._state.parameters
        return {p.name: np.array(state[p.name].grad) for p in self.manifest.trainable}

    def set_proximal_anchor(self, weights: Mapping[str, np.ndarray]) -> None:
        state = self._state.parameters
        shapes = {anchor: state[anchor].data.shape for anchor in self.manifest.optimizer.anchors.values()}
        for anchor, value in checked_anchor(self.manifest, weights, shapes).items():
            state[anchor] = value

    def save_checkpoint(self, path: Path, properties: Mapping[str, int | float | str]) -> None:
        """Write weights, optimizer state, learning rate and `properties` atomically to `path`."""
        checked_properties(properties, INTERNAL_PROPERTY_PREFIX)
        target = checked_checkpoint_target(path)
        state_properties = self._state.properties
        for key, value in properties.items():
            state_properties[key] = value
        state_properties[LR_PROPERTY] = self._learning_rate
        write_with_atomic(
            target,
            lambda temp: ort_api.CheckpointState.save_checkpoint(
                self._state, os.fspath(temp), include_optimizer_state=True
            ),
        )

    def checkpoint_properties(self) -> dict[str, int | float | str]:
        return {
            name: value
            for name, value in self._state.properties
            if not name.startswith(INTERNAL_PROPERTY_PREFIX)
        }
