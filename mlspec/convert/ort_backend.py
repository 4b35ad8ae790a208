"""The one adapter between mlspec and onnxruntime-training 1.19.2; every ORT quirk stays in here.

Importing `onnxruntime.training` runs its `__init__`, which imports torch. We never depend on
torch, so a bare package object with the right `__path__` is registered first and the three
submodules we need (artifacts, onnxblock, api) are imported through it (ORT_NOTES.md).

TrainingSession is what the runtime drives. Its hot path (`train_step`) is one Module call,
Optimizer.step and lazy_reset_grad, plus one state assignment per batch-norm statistic: every
optimizer detail ORT lacks already runs inside the training graph (see optimizers.py).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime
from google.protobuf.message import Message

from mlspec.convert.artifact_graphs import MAX_IR_VERSION
from mlspec.convert.manifest import Manifest
from mlspec.convert.optimizers import hyper_value, optimizer_model_settings
from mlspec.spec.atomic import write_with_atomic
from mlspec.spec.errors import MlspecError


def _register_training_package() -> None:
    if "onnxruntime.training" in sys.modules:
        return
    package = types.ModuleType("onnxruntime.training")
    package.__path__ = [os.path.join(os.path.dirname(onnxruntime.__file__), "training")]
    sys.modules["onnxruntime.training"] = package


_register_training_package()

import onnxruntime.training.api as ort_api  # noqa: E402
import onnxruntime.training.artifacts as ort_artifacts  # noqa: E402
from onnxruntime.training import onnxblock  # noqa: E402

LR_PROPERTY = "mlspec.learning_rate"
SETTING_PROPERTY_PREFIX = "mlspec.setting."
INTERNAL_PROPERTY_PREFIX = "mlspec."
OPTIMIZER_MODEL = "optimizer_model.onnx"


class _AppendSubgraph(onnxblock.Block):  # type: ignore[misc]
    """Lets a pure-ONNX function extend the forward graph where ORT expects a loss block."""

    def __init__(self, append: Callable[[onnx.GraphProto], str]) -> None:
        super().__init__()
        self._append = append

    def build(self, *graph_outputs: str) -> str:
        return self._append(self.base.graph)


def training_session_options() -> onnxruntime.SessionOptions:
    """Errors-only logging and no spin-waiting between training steps.

    ORT warns on every SGD session load about the shape of its own update flag: a graph ORT
    generated itself (see optimizers.py), nothing a user can act on; real failures still raise.
    Spinning keeps idle intra-op threads busy-waiting for the next op; between the many short
    calls of a training loop on a small CPU that steals the core the next step needs
    (tools/bench/train_throughput.py measures both settings side by side).
    """
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


@contextlib.contextmanager
def _native_stderr_captured() -> Iterator[None]:
    """Swallow the ~20 info lines ORT's native graph optimizer prints per generation.

    They bypass set_default_logger_severity (the gradient builder logs through its own session
    options), so file descriptor 2 is pointed at a scratch file for the call. Failures still
    surface as Python exceptions carrying ORT's message.
    """
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as sink:
            os.dup2(sink.fileno(), 2)
            try:
                yield
            finally:
                os.dup2(saved, 2)
    finally:
        os.close(saved)


def generate_training_models(
    base: onnx.ModelProto,
    *,
    append_loss: Callable[[onnx.GraphProto], str],
    trainable: Sequence[str],
    frozen: Sequence[str],
    additional_outputs: Sequence[str],
    directory: Path,
) -> None:
    """Write training_model.onnx, eval_model.onnx and checkpoint into an existing directory.

    ORT's generator deep-copies, serialises, shape-infers and checks the model it is given
    about ten times over, so it is handed the graph with the checkpoint parameters already
    turned into graph inputs (which is what it would do to them first anyway) and the
    checkpoint is written here from the original initializers: the weights are never copied
    by the generator, which made conversion time grow faster than the parameter count.
    The optimizer model is written separately (build_optimizer_model) because a hyperparameter
    override must be able to rebuild it alone.
    """
    held = set(trainable) | set(frozen)
    tensors = {tensor.name: tensor for tensor in base.graph.initializer if tensor.name in held}
    missing = sorted(held - set(tensors))
    if missing:
        raise MlspecError(f"network: no weight named {missing[0]!r} in the ONNX graph")
    with _native_stderr_captured():
        ort_artifacts.generate_artifacts(
            _parameters_as_inputs(base, [tensors[name] for name in (*trainable, *frozen)]),
            requires_grad=list(trainable),
            frozen_params=list(frozen),
            loss=_AppendSubgraph(append_loss),
            optimizer=None,
            artifact_directory=os.fspath(directory),
            additional_output_names=list(additional_outputs) or None,
        )
    onnxblock.save_checkpoint(
        ([tensors[name] for name in trainable], [tensors[name] for name in frozen]),
        os.fspath(directory / "checkpoint"),
    )


def _parameters_as_inputs(base: onnx.ModelProto, parameters: Sequence[onnx.TensorProto]) -> onnx.ModelProto:
    """A copy of `base` whose parameters are typed graph inputs instead of initializers."""
    names = {tensor.name for tensor in parameters}
    light = onnx.ModelProto()
    _copy_fields(base, light, skip="graph")
    _copy_fields(base.graph, light.graph, skip="initializer")
    light.graph.initializer.extend(tensor for tensor in base.graph.initializer if tensor.name not in names)
    light.graph.input.extend(
        onnx.helper.make_tensor_value_info(tensor.name, tensor.data_type, list(tensor.dims))
        for tensor in parameters
    )
    return light


def _copy_fields(source: Message, target: Message, *, skip: str) -> None:
    for field, value in source.ListFields():
        if field.name == skip:
            continue
        if field.is_repeated:
            getattr(target, field.name).extend(value)
        elif field.message_type is not None:
            getattr(target, field.name).CopyFrom(value)
        else:
            setattr(target, field.name, value)


def build_optimizer_model(ort_kind: str, settings: Mapping[str, float], opset: int) -> onnx.ModelProto:
    """optimizer_model.onnx for stock SGD or PyTorch-style AdamW with the given baked settings."""
    if ort_kind == "sgd":
        block = onnxblock.optim.SGD()
    else:
        block = onnxblock.optim.AdamW(
            bias_correction=True,
            betas=(settings["beta1"], settings["beta2"]),
            eps=settings["eps"],
            weight_decay=settings["weight_decay"],
        )
    # The block reads only the element type of the first trainable tensor.
    placeholder = onnx.helper.make_tensor("mlspec.placeholder", onnx.TensorProto.FLOAT, [1], [0.0])
    with onnxblock.empty_base(opset_version=opset):
        block(([placeholder], []))
        model: onnx.ModelProto = block.to_model_proto()
    for node in model.graph.node:
        if node.op_type == "AdamWOptimizer":
            for attribute in node.attribute:
                if attribute.name == "adam_mode":
                    attribute.i = 0  # PyTorch's AdamW; onnxblock hard-codes 1 (Hugging Face)
    model.ir_version = min(model.ir_version, MAX_IR_VERSION)
    return model


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


class TrainingSession:
    """Training over an artifacts directory with PyTorch optimizer semantics.

    Hyperparameter precedence: an explicit override, then the value saved in the checkpoint
    being resumed, then the manifest default. Optimizer settings and the learning rate live in
    checkpoint properties because ORT forgets the learning rate on reload and never stores the
    settings baked into optimizer_model.onnx.
    """

    def __init__(
        self,
        artifact_dir: Path,
        *,
        hyperparameters: Mapping[str, float | int | bool] | None = None,
        checkpoint: Path | None = None,
    ) -> None:
        directory = Path(artifact_dir)
        self.manifest = Manifest.load(directory)
        overrides = dict(hyperparameters or {})
        unknown = sorted(set(overrides) - set(self.manifest.hyperparameters))
        if unknown:
            allowed = ", ".join(sorted(self.manifest.hyperparameters))
            raise MlspecError(f"unknown hyperparameter {unknown[0]!r}; this model accepts: {allowed}")
        state_path = Path(checkpoint) if checkpoint is not None else directory / "checkpoint"
        if not state_path.is_file():
            raise MlspecError(f"{state_path}: no such checkpoint file")
        self._state = ort_api.CheckpointState.load_checkpoint(os.fspath(state_path))
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

    @property
    def learning_rate(self) -> float:
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self._learning_rate = float(value)
        self._optimizer.set_learning_rate(self._learning_rate)

    def _inputs(self, feeds: Mapping[str, np.ndarray], order: list[str]) -> list[np.ndarray]:
        try:
            return [feeds[name] for name in order]
        except KeyError as missing:
            raise MlspecError(
                f"feeds lack {missing.args[0]!r}; expected inputs: {', '.join(order)}"
            ) from None

    def train_step(self, feeds: Mapping[str, np.ndarray]) -> float:
        """Forward, backward, optimizer step, gradient reset and running-statistic write-back."""
        outputs = self._module(*self._inputs(feeds, self._feed_order))
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
            outputs = self._module(*self._inputs(feeds, self._eval_feed_order))
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

    def save_checkpoint(self, path: Path, properties: Mapping[str, int | float | str]) -> None:
        """Write weights, optimizer state, learning rate and `properties` atomically to `path`."""
        state_properties = self._state.properties
        for key, value in properties.items():
            if key.startswith(INTERNAL_PROPERTY_PREFIX):
                raise MlspecError(
                    f"checkpoint property {key!r}: the prefix {INTERNAL_PROPERTY_PREFIX!r} is reserved"
                )
            state_properties[key] = value
        state_properties[LR_PROPERTY] = self._learning_rate
        target = Path(path)
        if not target.parent.is_dir():
            raise MlspecError(f"{target}: folder {target.parent} does not exist")
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
