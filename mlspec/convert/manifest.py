"""manifest.json: everything a runtime needs to drive the artifacts besides the ONNX files.

The runtime reads nothing else, so the manifest names every tensor it must feed, read or write
back, and carries the hyperparameter constraints so overrides can be refused without the spec.

Keys (format_version 1):

- ``format``: always ``"mlspec-ort-training-artifacts"``; ``format_version``: integer, bumped
  on any incompatible change.
- ``backend``: the training backend that wrote the artifacts and whose session drives them,
  one of ``ort-training`` or ``portable`` (see mlspec/backends/).
- ``spec_version``: the spec's schema version; ``spec_sha256``: SHA-256 of the spec's
  deterministic protobuf serialisation, to tell which spec the artifacts came from.
- ``model_name``: the spec's metadata name.
- ``inputs`` / ``training_inputs``: features as ``{name, dtype, shape, role}``. ``dtype`` is
  ``float32``, ``int64`` or ``string``; ``shape`` lists ints, symbols (``"batch"``) or null;
  ``role`` is ``input`` (the network reads it) or ``target`` (only a loss reads it).
  An image input adds ``image``: ``{width, height, color_space, scale, bias}`` (``gray``, ``rgb``
  or ``bgr``; one scale and bias per channel): the runtime feeds pixels * scale + bias.
- ``feed_order``: the training model's user inputs, in the order ORT expects them.
  ``eval_feed_order``: the same for the eval model.
- ``label_mapping``: target name -> ``{kind, labels}``. ``kind`` ``"string"`` or ``"int64"``:
  the runtime maps each label to its index in ``labels`` before feeding int64 indices.
  Targets absent here are already int64 class indices (or float tensors).
- ``class_labels``: the classifier's labels (strings or ints), empty for other models.
- ``losses``: ``{name, kind, weight, input, target, from_logits, delta}`` per spec loss;
  ``kind`` is one of ``categorical_cross_entropy``, ``mean_squared_error``,
  ``binary_cross_entropy``, ``l1``, ``huber``. The training loss is the weighted sum.
- ``loss_output``: the loss tensor's name in both the training and eval models (output 0).
- ``trainable`` / ``frozen``: ``{name, layer, field}`` per checkpoint parameter. ``frozen``
  holds batch-norm running statistics, which the write-back updates.
- ``running_stat_writeback``: ``{parameter, output, output_index}``: after each training step
  the training model's output ``output`` (at position ``output_index`` of what Module returns,
  the loss being 0) is copied into the checkpoint parameter ``parameter``.
- ``training_outputs``: every training-model output name after the loss, in order.
- ``eval_outputs``: the eval model's outputs: the loss, then model outputs with inference semantics.
- ``optimizer``: ``kind`` (``sgd``, ``adam``, ``adamw``); ``ort_kind`` (``sgd`` or ``adamw``,
  the node in optimizer_model.onnx); ``model_settings``: values baked into
  optimizer_model.onnx (a different value means regenerating that model); ``graph_settings``:
  hyperparameter name -> checkpoint parameter holding it inside the training graph (assign to
  change it); ``state``: checkpoint parameters holding optimizer state in the training graph
  (momentum buffers); ``anchors``: trainable tensor -> the tensor holding its proximal anchor
  (FedProx's global weights; empty when the spec fixes proximal_mu at 0).
- ``hyperparameters``: name -> ``{type, default, range | set}``; ``type`` is ``double``,
  ``int`` or ``bool``; ``range`` is ``[min, max]`` (closed), ``set`` the allowed values. Names
  follow docs/ARCHITECTURE.md (learning_rate, mini_batch_size, epochs, shuffle, seed, momentum,
  nesterov, beta1, beta2, eps, weight_decay, clip_norm, clip_value, proximal_mu).
- ``clipping``: ``"norm"``, ``"value"`` or null. ``lr_schedule``: ``{kind, ...}`` or null with
  the spec's schedule fields (step: step_epochs, gamma; cosine: min_lr; linear_warmup:
  warmup_steps, start_factor).
- ``augmentation``: ``{brightness, horizontal_flip, max_rotation_degrees, crop_padding}`` (the
  spec's fields) or null: random changes the runtime makes to image inputs in training batches.
- ``stock_ort``: ``{runs_alone, needs_mlspec_runtime_for}``: whether a plain ORT loop
  (Module, Optimizer.step, lazy_reset_grad) trains these artifacts with the spec's semantics,
  and the list of features only the mlspec runtime provides.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mlspec._proto import parameters_pb2
from mlspec.spec import hyper
from mlspec.spec.atomic import write_bytes_atomic
from mlspec.spec.errors import MlspecError

FORMAT = "mlspec-ort-training-artifacts"
FORMAT_VERSION = 1
# The training backends that write artifacts (mlspec/backends/ holds their code).
BACKENDS = ("ort-training", "portable")
FILE_NAME = "manifest.json"

Dim = int | str | None
Scalar = int | float | bool


@dataclass(frozen=True)
class Feature:
    name: str
    dtype: str
    shape: list[Dim]
    role: str
    # An image input's size, colour space and preprocessing (mlspec.spec.images.ImageInput.to_json).
    image: dict[str, Any] | None = None


@dataclass(frozen=True)
class LabelMapping:
    kind: str
    labels: list[Any]


@dataclass(frozen=True)
class LossEntry:
    name: str
    kind: str
    weight: float
    input: str
    target: str
    from_logits: bool = False
    delta: float = 0.0


@dataclass(frozen=True)
class ParameterRef:
    name: str
    layer: str
    field: str


@dataclass(frozen=True)
class WriteBack:
    parameter: str
    output: str
    output_index: int


@dataclass(frozen=True)
class Hyperparameter:
    type: str
    default: Scalar
    range: list[float] | None = None
    set: list[float] | None = None

    def violation(self, name: str, value: Scalar) -> str | None:
        """The project-wide refusal message for `value`, or None when it is allowed."""
        if self.type == "bool":
            return None if isinstance(value, bool) else f"{name}={value!r} must be true or false"
        param: hyper.NumericParameter = (
            parameters_pb2.DoubleParameter() if self.type == "double" else parameters_pb2.Int64Parameter()
        )
        if self.range is not None:
            param.range.min, param.range.max = self.range
        elif self.set is not None:
            param.set.values.extend(self.set)  # type: ignore[arg-type]
        return hyper.violation(name, param, value)


@dataclass(frozen=True)
class OptimizerInfo:
    kind: str
    ort_kind: str
    model_settings: dict[str, float]
    graph_settings: dict[str, str]
    state: list[str]
    # trainable tensor -> the tensor holding its proximal anchor (empty without FedProx's term)
    anchors: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class StockOrt:
    runs_alone: bool
    needs_mlspec_runtime_for: list[str]


@dataclass(frozen=True)
class Manifest:
    spec_version: int
    spec_sha256: str
    model_name: str
    inputs: list[Feature]
    training_inputs: list[Feature]
    feed_order: list[str]
    eval_feed_order: list[str]
    label_mapping: dict[str, LabelMapping]
    class_labels: list[Any]
    losses: list[LossEntry]
    loss_output: str
    trainable: list[ParameterRef]
    frozen: list[ParameterRef]
    running_stat_writeback: list[WriteBack]
    training_outputs: list[str]
    eval_outputs: list[str]
    optimizer: OptimizerInfo
    hyperparameters: dict[str, Hyperparameter]
    clipping: str | None
    lr_schedule: dict[str, Any] | None
    stock_ort: StockOrt
    backend: str
    # update_parameters.augmentation's fields, or null when the spec augments nothing.
    augmentation: dict[str, Any] | None = None
    format: str = FORMAT
    format_version: int = FORMAT_VERSION

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True)

    def save(self, directory: Path) -> None:
        write_bytes_atomic(directory / FILE_NAME, self.to_json().encode("utf-8"))

    @classmethod
    def from_json(cls, text: str, where: str = FILE_NAME) -> Manifest:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise MlspecError(f"{where}: not valid JSON: {exc}") from exc
        if data.get("format") != FORMAT:
            raise MlspecError(f"{where}: not an mlspec artifacts manifest (format {data.get('format')!r})")
        if data.get("format_version") != FORMAT_VERSION:
            raise MlspecError(
                f"{where}: format_version {data.get('format_version')} is not supported; "
                f"this mlspec reads {FORMAT_VERSION}; convert the spec again"
            )
        if data.get("backend") not in BACKENDS:
            raise MlspecError(
                f"{where}: backend {data.get('backend')!r} is not one this mlspec knows; "
                f"expected one of {', '.join(BACKENDS)}; convert the spec again"
            )
        try:
            return cls(
                **{
                    **data,
                    "inputs": [Feature(**f) for f in data["inputs"]],
                    "training_inputs": [Feature(**f) for f in data["training_inputs"]],
                    "label_mapping": {k: LabelMapping(**v) for k, v in data["label_mapping"].items()},
                    "losses": [LossEntry(**entry) for entry in data["losses"]],
                    "trainable": [ParameterRef(**p) for p in data["trainable"]],
                    "frozen": [ParameterRef(**p) for p in data["frozen"]],
                    "running_stat_writeback": [WriteBack(**w) for w in data["running_stat_writeback"]],
                    "optimizer": OptimizerInfo(**data["optimizer"]),
                    "hyperparameters": {k: Hyperparameter(**v) for k, v in data["hyperparameters"].items()},
                    "stock_ort": StockOrt(**data["stock_ort"]),
                }
            )
        except (KeyError, TypeError) as exc:
            raise MlspecError(f"{where}: malformed manifest ({exc}); convert the spec again") from exc

    @classmethod
    def load(cls, directory: Path) -> Manifest:
        path = Path(directory) / FILE_NAME
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise MlspecError(f"{path}: cannot read the artifacts manifest: {exc.strerror}") from exc
        return cls.from_json(text, str(path))

    def checked_overrides(self, hyperparameters: Mapping[str, Scalar] | None) -> dict[str, Scalar]:
        """The caller's settings for a session over these artifacts, refusing any name the model
        has no hyperparameter for (every backend's session opens with this check)."""
        overrides = dict(hyperparameters or {})
        unknown = sorted(set(overrides) - set(self.hyperparameters))
        if unknown:
            allowed = ", ".join(sorted(self.hyperparameters))
            raise MlspecError(f"unknown hyperparameter {unknown[0]!r}; this model accepts: {allowed}")
        return overrides


def checked_anchor(
    manifest: Manifest, weights: Mapping[str, Any], shapes: Mapping[str, tuple[int, ...]]
) -> dict[str, npt.NDArray[np.float32]]:
    """New proximal anchors by anchor tensor name, float32; refuses artifacts without the term,
    a missing or unknown tensor name, and a shape other than the anchor's (`shapes`, by anchor)."""
    if not manifest.optimizer.anchors:
        raise MlspecError(
            "these artifacts have no proximal term: the spec fixes proximal_mu at 0; "
            "declare proximal_mu with non-zero allowed values and convert again"
        )
    names = manifest.optimizer.anchors
    if set(weights) != set(names):
        missing = sorted(set(names) - set(weights))
        unknown = sorted(set(weights) - set(names))
        problem = f"lacks {missing[0]!r}" if missing else f"has {unknown[0]!r}, which is not trainable"
        raise MlspecError(f"proximal anchor {problem}; give exactly: {', '.join(names)}")
    anchors = {names[name]: np.ascontiguousarray(value, dtype=np.float32) for name, value in weights.items()}
    for name, value in weights.items():
        if anchors[names[name]].shape != tuple(shapes[names[name]]):
            expected = " x ".join(map(str, shapes[names[name]]))
            raise MlspecError(f"proximal anchor {name!r}: shape {np.shape(value)}, expected {expected}")
    return anchors
