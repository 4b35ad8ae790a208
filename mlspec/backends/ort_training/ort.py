"""The one place mlspec imports onnxruntime.training 1.19.2: artifact generation and its options.

Importing `onnxruntime.training` runs its `__init__`, which imports torch. We never depend on
torch, so a bare package object with the right `__path__` is registered first and the three
submodules we need (artifacts, onnxblock, api) are imported through it (docs/ORT_FINDINGS.md).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
import types
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import onnx
import onnxruntime
from google.protobuf.message import Message

from mlspec.backends.shared import session_options
from mlspec.convert.artifact_graphs import MAX_IR_VERSION
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

OPTIMIZER_MODEL = "optimizer_model.onnx"

__all__ = [
    "OPTIMIZER_MODEL",
    "build_optimizer_model",
    "generate_training_models",
    "onnxblock",
    "ort_api",
    "ort_artifacts",
    "training_session_options",
]


class _AppendSubgraph(onnxblock.Block):  # type: ignore[misc]
    """Lets a pure-ONNX function extend the forward graph where ORT expects a loss block."""

    def __init__(self, append: Callable[[onnx.GraphProto], str]) -> None:
        super().__init__()
        self._append = append

    def build(self, *graph_outputs: str) -> str:
        return self._append(self.base.graph)


def training_session_options() -> onnxruntime.SessionOptions:
    """mlspec.backends.shared.session_options; ORT also warns on every SGD session load about the
    shape of its own update flag (a graph ORT generated itself, see optimizers.py), which the
    errors-only logging hides: real failures still raise."""
    return session_options()


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
