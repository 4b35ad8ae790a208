"""What both backends do alike: the front of an artifact writer, its manifest tail, a session's opening.

Each backend differs in how it turns the forward graph into a training step; everything before
(validation, the forward graph in the backend's op forms, losses, label mapping, optimizer plan)
and after (the manifest, the atomic swap into place), and the way a session finds its manifest,
overrides and state file, is the same and lives here once.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar, TypeVar

import onnxruntime

from mlspec._proto import model_pb2
from mlspec.convert.artifacts import check_target, move_into_place
from mlspec.convert.forms import GraphForms
from mlspec.convert.graph import GraphBuild, build_graph
from mlspec.convert.losses import LossGraph, build_losses
from mlspec.convert.manifest import LabelMapping, Manifest
from mlspec.convert.manifest_builder import ManifestParts, build_manifest, label_mapping
from mlspec.convert.optimizers import OptimizerPlan, plan_optimizer
from mlspec.spec.errors import MlspecError
from mlspec.spec.validate import validate

Scalar = int | float | bool
T = TypeVar("T")


SPINNING_VARIABLE = "MLSPEC_ORT_SPINNING"


def session_options() -> onnxruntime.SessionOptions:
    """Both backends' sessions: every graph optimisation, errors-only logging, ONNX Runtime's
    default intra-op thread count (one per core), and no spin-waiting between ops unless
    MLSPEC_ORT_SPINNING=1.

    Spinning keeps idle intra-op threads busy-waiting for the next op. On an idle machine that
    saves the wake-up of a sleeping thread at every parallel op (the 784-512 MLP's step has
    dozens); on a small CPU shared with other work the spinning threads steal the core the next
    step needs, several times over. Sleeping is the default because it never collapses;
    tools/bench/train_throughput.py times both settings for both backends side by side. The same
    options for both backends keep their throughput comparison like with like.
    """
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.add_session_config_entry("session.intra_op.allow_spinning", "1" if spinning() else "0")
    return options


def spinning() -> bool:
    """Whether MLSPEC_ORT_SPINNING asks for spinning intra-op threads (unset means no)."""
    value = os.environ.get(SPINNING_VARIABLE, "0")
    if value not in ("0", "1"):
        raise MlspecError(
            f"environment variable {SPINNING_VARIABLE}={value!r}: allowed values are 0 (intra-op "
            "threads sleep between ops, the default) and 1 (they spin, ONNX Runtime's own default)"
        )
    return value == "1"


@dataclass(frozen=True)
class Conversion:
    """A validated spec's training forward graph, losses, label mapping and optimizer plan."""

    model: model_pb2.Model
    build: GraphBuild
    losses: LossGraph
    labels: dict[str, LabelMapping]
    plan: OptimizerPlan
    trainable: list[str]

    def publish(
        self,
        staging: Path,
        target: Path,
        *,
        backend: str,
        graph_inputs: tuple[list[str], list[str]],
        graph_outputs: tuple[list[str], list[str]],
        frozen: list[str],
        running: dict[str, str],
    ) -> Manifest:
        """Write the manifest into `staging` and swap the finished set into `target`.

        `graph_inputs` and `graph_outputs` are the (training, eval) models' user-facing names.
        """
        model = self.model
        manifest = build_manifest(
            ManifestParts(
                model=model,
                spec_sha256=hashlib.sha256(model.SerializeToString(deterministic=True)).hexdigest(),
                plan=self.plan,
                losses=self.losses.entries,
                trainable=self.trainable,
                frozen=frozen,
                running=running,
                training_inputs=graph_inputs[0],
                eval_inputs=graph_inputs[1],
                training_outputs=graph_outputs[0],
                eval_outputs=graph_outputs[1],
                label_mapping=self.labels,
                backend=backend,
            )
        )
        manifest.save(staging)
        move_into_place(staging, target)
        return manifest


def convert(
    model: model_pb2.Model,
    target: Path,
    artifact_files: tuple[str, ...],
    forms: GraphForms,
    *,
    check: Callable[[model_pb2.Model], None] | None = None,
) -> Conversion:
    """Every check that can refuse the spec, run before a backend writes anything into `target`;
    `check` is the backend's own, run on the validated spec before anything is built."""
    validate(model)
    if check is not None:
        check(model)
    check_target(target, artifact_files)
    build = build_graph(model, training=True, forms=forms)
    if not build.trainable:
        raise MlspecError("network: no layer has updatable tensors; mark a layer updatable before converting")
    losses = build_losses(model, build.logits_of)
    labels = label_mapping(model, losses.entries)
    return Conversion(model, build, losses, labels, plan_optimizer(model), list(build.trainable))


@dataclass(frozen=True)
class Opening:
    """What a session reads first: the manifest, the checked overrides and the state file."""

    directory: Path
    manifest: Manifest
    overrides: dict[str, Scalar]
    state_path: Path


class ArtifactSession:
    """The constructor both backends' sessions share: it finds the manifest, checks the overrides
    and the state file (`checkpoint` when given, else the artifacts' own INITIAL_STATE), then
    hands them to the backend's `_open`."""

    INITIAL_STATE: ClassVar[str]
    manifest: Manifest
    _learning_rate: float

    def __init__(
        self,
        artifact_dir: Path,
        *,
        hyperparameters: Mapping[str, Scalar] | None = None,
        checkpoint: Path | None = None,
    ) -> None:
        directory = Path(artifact_dir)
        self.manifest = Manifest.load(directory)
        overrides = self.manifest.checked_overrides(hyperparameters)
        state_path = Path(checkpoint) if checkpoint is not None else directory / self.INITIAL_STATE
        if not state_path.is_file():
            raise MlspecError(f"{state_path}: no such checkpoint file")
        self._open(Opening(directory, self.manifest, overrides, state_path))

    def _open(self, opening: Opening) -> None:
        raise NotImplementedError

    @property
    def learning_rate(self) -> float:
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self._learning_rate = float(value)
        self._use_learning_rate(self._learning_rate)

    def _use_learning_rate(self, value: float) -> None:
        """Make the next step use `value` (a schedule or the caller changed it)."""
        raise NotImplementedError


def ordered_feeds(feeds: Mapping[str, T], order: list[str]) -> list[T]:
    """The batch's arrays in the model's input order; a missing one is named with all expected."""
    try:
        return [feeds[name] for name in order]
    except KeyError as missing:
        raise MlspecError(f"feeds lack {missing.args[0]!r}; expected inputs: {', '.join(order)}") from None


def checked_properties(properties: Mapping[str, int | float | str], reserved_prefix: str) -> None:
    """Refuse a caller's checkpoint property under the prefix mlspec keeps for itself."""
    for key in properties:
        if key.startswith(reserved_prefix):
            raise MlspecError(f"checkpoint property {key!r}: the prefix {reserved_prefix!r} is reserved")


def checked_checkpoint_target(path: Path) -> Path:
    """A checkpoint path whose folder exists (the write itself is atomic, the folder is not made)."""
    target = Path(path)
    if not target.parent.is_dir():
        raise MlspecError(f"{target}: folder {target.parent} does not exist")
    return target
