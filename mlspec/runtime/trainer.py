"""The Trainer: mlspec's MLUpdateTask, over ONNX Runtime training artifacts.

It adds what Core ML users asked for: overrides checked before any work, the epoch's true mean
loss, validation metrics, a learning rate a callback can change, cancel that keeps the work
done, checkpoints that survive a kill, exact resume, and atomic write-back into a spec.

Threading: `train` runs on the caller's thread; `cancel()` may be called from any other thread
(or a signal handler). It sets an event the loop checks before every optimizer step, so the
run ends after the step in flight and keeps every completed step.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mlspec._proto import model_pb2
from mlspec.backends import open_session, to_training_artifacts
from mlspec.backends.inference import InferenceModel
from mlspec.builder.frozen_prefix import FrozenSplit, split_frozen_prefix
from mlspec.convert import to_onnx
from mlspec.convert.manifest import Manifest
from mlspec.runtime import checkpoints
from mlspec.runtime.augment import Augmentation, Augmenter, augment_batch
from mlspec.runtime.data import DataSource, as_source
from mlspec.runtime.evaluation import accuracy_source, evaluate_source, predict_source
from mlspec.runtime.events import Callback, TrainingContext
from mlspec.runtime.feature_cache import FeatureCache, FrozenFront
from mlspec.runtime.features import FeatureSpec, features_from_manifest, inputs_only
from mlspec.runtime.hyperparams import (
    Hyperparameters,
    HyperparameterTable,
    table_from_manifest,
    table_from_spec,
)
from mlspec.runtime.loop import DivergedError, TrainingRun
from mlspec.runtime.results import EvaluationResult, TrainingResult, write_back
from mlspec.runtime.schedules import schedule_from_dict
from mlspec.spec.errors import MlspecError, layer_ref
from mlspec.spec.graph import find_layer
from mlspec.spec.io import load, save
from mlspec.spec.kinds import layer_tensors
from mlspec.spec.shapes import infer_shapes
from mlspec.spec.tensor_info import Dim, TensorInfo
from mlspec.spec.text import shown
from mlspec.spec.validate import validate
from mlspec.spec.weights import non_finite

ModelSource = model_pb2.Model | str | os.PathLike[str]
_TURNED_OFF = "turned off (feature_cache=False, --no-feature-cache)"


class Trainer:
    """Trains one artifacts directory; build it with `from_spec` or `from_artifacts`.

    Overrides are keyed by the names in docs/ARCHITECTURE.md (learning_rate, mini_batch_size,
    epochs, shuffle, seed, momentum, nesterov, beta1, beta2, eps, weight_decay, clip_norm,
    clip_value, proximal_mu); `lr` and `batch_size` are accepted as aliases.

    The seed drives the shuffle order and, through the converted graph, dropout masks: ORT
    seeds each dropout node when the session is built, so `from_spec` converts with the
    overridden seed, while `from_artifacts` can change only the shuffle order. For the same
    reason a resumed run restarts the dropout generators; resume is exact for networks
    without dropout and statistically equivalent for those with it.

    Feature cache: when every updatable layer lies behind frozen layers, `from_spec` trains the
    rest of the network only and computes the frozen front's output once per example (see
    `mlspec.runtime.feature_cache`); the weights are those of training the whole network.
    `feature_cache_note` says whether it applies and why not; `feature_cache=False` turns it off.
    """

    def __init__(
        self,
        artifact_dir: Path,
        *,
        manifest: Manifest,
        table: HyperparameterTable,
        hyperparameters: Hyperparameters,
        spec: model_pb2.Model | None = None,
        spec_path: Path | None = None,
        owned_dir: tempfile.TemporaryDirectory[str] | None = None,
        front: FrozenFront | None = None,
        feature_cache_note: str = "off: the trainer was built from artifacts",
    ) -> None:
        self.artifact_dir = artifact_dir
        self.manifest = manifest
        self.hyperparameters = hyperparameters
        self.spec = spec
        self._spec_path = spec_path
        self._owned_dir = owned_dir
        self._table = table
        self._features = features_from_manifest(manifest)
        self._schedule = schedule_from_dict(manifest.lr_schedule)
        self._cancel = threading.Event()
        self._optimizer_overrides = table.optimizer_overrides(hyperparameters)
        self._session = open_session(artifact_dir, hyperparameters=self._optimizer_overrides)
        self._progress: checkpoints.RunState | None = None
        self._front = front
        self.feature_cache_note = feature_cache_note

    @classmethod
    def from_spec(
        cls,
        model: ModelSource,
        work_dir: str | os.PathLike[str] | None = None,
        *,
        backend: str | None = None,
        feature_cache: bool | FeatureCache = True,
        **overrides: Any,
    ) -> Trainer:
        """Check overrides against the spec, then convert it into `work_dir` (or a temporary one).

        `backend` is one of mlspec.backends.CHOICES (`auto`, `ort-training`, `portable`); None
        means ort-training where onnxruntime-training is installed, else auto.
        `feature_cache`: True (a cache of this trainer's own), a `FeatureCache` to share between
        trainers, or False to run the frozen layers in every epoch.
        """
        spec, spec_path = _read_spec(model)
        table = table_from_spec(spec)
        params = table.resolve(overrides, source=str(spec_path or "spec"))
        owned: tempfile.TemporaryDirectory[str] | None = None
        if work_dir is None:
            owned = tempfile.TemporaryDirectory(prefix="mlspec-train-")
            out_dir = Path(owned.name)
        else:
            out_dir = Path(work_dir)
        converted = _seeded(spec, params.seed)
        split: FrozenSplit | str = _TURNED_OFF
        if converted.update_parameters.HasField("augmentation"):
            # Cached features would be those of the images as given; augmentation changes them.
            split = "the spec augments its image inputs, which changes the frozen layers' outputs"
        elif feature_cache is not False:
            validate(converted)  # the whole network, before any part of it runs
            split = split_frozen_prefix(converted)
        try:
            if isinstance(split, str):
                front, note = None, f"off: {split}"
                manifest = to_training_artifacts(converted, out_dir, backend=backend)
            else:
                manifest = to_training_artifacts(split.rest, out_dir, backend=backend)
                shared = feature_cache if isinstance(feature_cache, FeatureCache) else None
                front = FrozenFront(converted, split, manifest.backend, shared)
                note = _cache_plan(split)
        except BaseException:
            if owned is not None:
                owned.cleanup()
            raise
        return cls(
            out_dir,
            manifest=manifest,
            table=table,
            hyperparameters=params,
            spec=spec,
            spec_path=spec_path,
            owned_dir=owned,
            front=front,
            feature_cache_note=note,
        )

    @classmethod
    def from_artifacts(
        cls, artifact_dir: str | os.PathLike[str], spec: ModelSource | None = None, **overrides: Any
    ) -> Trainer:
        """Train existing artifacts; give the spec they came from to get `updated_model()` back."""
        directory = Path(artifact_dir)
        manifest = Manifest.load(directory)
        table = table_from_manifest(manifest)
        params = table.resolve(overrides, source=str(directory / "manifest.json"))
        if spec is None:
            return cls(directory, manifest=manifest, table=table, hyperparameters=params)
        model, spec_path = _read_spec(spec)
        baked_seed = manifest.hyperparameters["seed"].default if "seed" in manifest.hyperparameters else 0
        converted = _seeded(model, int(baked_seed))
        front = None
        if _digest(converted) != manifest.spec_sha256:
            split = split_frozen_prefix(converted)
            if isinstance(split, str) or _digest(split.rest) != manifest.spec_sha256:
                raise MlspecError(
                    f"{directory}: these artifacts were converted from a different spec than "
                    f"{spec_path or 'the one given'}; convert that spec again or pass the original"
                )
            front = FrozenFront(converted, split, manifest.backend)  # the rest's artifacts, by from_spec
        return cls(
            directory,
            manifest=manifest,
            table=table,
            hyperparameters=params,
            spec=model,
            spec_path=spec_path,
            front=front,
            feature_cache_note=_cache_plan(front.split)
            if front
            else "off: the artifacts hold the whole network",
        )

    def train(
        self,
        data: object,
        *,
        validation: object | None = None,
        callbacks: Iterable[Callback] = (),
        checkpoint_dir: str | os.PathLike[str] | None = None,
        checkpoint_every: int = 1,
        resume: bool = False,
        augment: bool = True,
    ) -> TrainingResult:
        """Train for the run's epochs; data and validation are checked completely first.

        Image inputs are augmented as the spec's update_parameters.augmentation says (seeded by
        the run's seed; see mlspec.runtime.augment); `augment=False` trains on them as given.

        With `checkpoint_dir`, a checkpoint is written every `checkpoint_every` epochs and after
        the last one. With `resume=True` the run continues from the newest checkpoint there (or
        starts fresh if there is none yet) and ends exactly as an uninterrupted run would.
        Calling `train` again on the same trainer runs `epochs` more epochs from the current
        weights and the current optimizer state: momentum buffers, Adam's moments and its step
        count carry over, as in a PyTorch loop run again with the same optimizer (for a fresh
        optimizer, make a new Trainer from `updated_model()`). A `cancel()` that arrives
        before or during the call ends it; the request is used up when the call returns.
        """
        try:
            return self._train(
                data,
                validation=validation,
                callbacks=list(callbacks),
                checkpoint_dir=checkpoint_dir,
                checkpoint_every=checkpoint_every,
                resume=resume,
                augment=augment,
            )
        finally:
            self._cancel.clear()

    def _train(
        self,
        data: object,
        *,
        validation: object | None,
        callbacks: list[Callback],
        checkpoint_dir: str | os.PathLike[str] | None,
        checkpoint_every: int,
        resume: bool,
        augment: bool,
    ) -> TrainingResult:
        if checkpoint_every < 1:
            raise MlspecError(
                f"checkpoint_every={checkpoint_every} must be at least 1 (epochs between checkpoints)"
            )
        source = self._source(data, self.manifest.feed_order, where="training data")
        note = self._front.last_note if self._front is not None else self.feature_cache_note
        validate = None
        if validation is not None:
            checked = self._source(validation, self.manifest.eval_feed_order, where="validation data")
            validate = lambda: self._evaluate_source(checked)  # noqa: E731
        self.feature_cache_note = note
        directory = Path(checkpoint_dir) if checkpoint_dir is not None else None
        if resume and directory is None:
            raise MlspecError("resume=True needs checkpoint_dir, the directory the checkpoints are in")
        if directory is None:
            return self._run(
                source, validate, callbacks, None, checkpoint_every, resume=False, augment=augment
            )
        with checkpoints.locked(directory):
            return self._run(
                source, validate, callbacks, directory, checkpoint_every, resume=resume, augment=augment
            )

    def _run(
        self,
        source: DataSource,
        validate: Callable[[], EvaluationResult] | None,
        callbacks: list[Callback],
        directory: Path | None,
        checkpoint_every: int,
        *,
        resume: bool,
        augment: bool,
    ) -> TrainingResult:
        """The run itself; with `directory`, the caller holds its lock."""
        self._refuse_single_value_batches(len(source))
        progress = self._fresh_progress(len(source))
        if resume and directory is not None:
            progress = self._resume(directory, progress)
        self._progress = progress
        context = TrainingContext(self._table.check_learning_rate, progress.base_learning_rate)
        run = TrainingRun(
            session=self._session,
            source=source,
            params=self.hyperparameters,
            schedule=self._schedule,
            progress=progress,
            context=context,
            callbacks=callbacks,
            cancel=self._cancel,
            validate=validate,
            checkpoint=(lambda: self._save_checkpoint(directory)) if directory is not None else None,
            checkpoint_every=checkpoint_every,
            augment=self._augmenter() if augment else None,
        )
        return run.run()

    def _refuse_single_value_batches(self, count: int) -> None:
        """A training-mode batch norm over one value per channel has no batch variance (PyTorch
        raises too): refused before the first step, naming the layer and the batch size."""
        layers = list(dict.fromkeys(ref.layer for ref in self.manifest.frozen))
        batch = self.hyperparameters.mini_batch_size
        if not layers or min(batch, count % batch or batch) != 1:
            return
        shapes = infer_shapes(self.spec) if self.spec is not None else {}
        for name in layers:
            dims = _input_dims(self.spec, name, shapes)
            if any(not isinstance(d, int) or d != 1 for d in dims[2:]):
                continue  # spatial positions give each channel more than one value
            held = (
                f"the mini-batch size is {batch}"
                if batch == 1
                else f"{count} examples in batches of {batch} leave a last mini-batch of 1"
            )
            raise MlspecError(
                f"{layer_ref(name)}: batch norm in training mode needs more than one value per channel, "
                f"but {held}; choose a mini-batch size of at least 2 that leaves no batch of one"
            )

    def _augmenter(self) -> Augmenter | None:
        """The spec's augmentation of image inputs for one training batch, or None if there is none."""
        augmentation = Augmentation.from_json(self.manifest.augmentation)
        images = {feature.name: feature.image for feature in self._features if feature.image is not None}
        if not augmentation.active or not images:
            return None
        seed = self.hyperparameters.seed
        return lambda feeds, epoch, batch: augment_batch(
            feeds, images, augmentation, seed=seed, epoch=epoch, batch=batch
        )

    def cancel(self) -> None:
        """Stop after the step in flight; safe to call from any thread or a signal handler."""
        self._cancel.set()

    def evaluate(self, data: object) -> EvaluationResult:
        """Mean loss over every example and, for classifiers, accuracy, through the eval model."""
        return self._evaluate_source(
            self._source(data, self.manifest.eval_feed_order, where="evaluation data")
        )

    def predict(self, data: object) -> dict[str, npt.NDArray[Any]]:
        """Outputs of the inference model (the spec's outputs) with the current weights."""
        inputs = self._front.inputs if self._front is not None else inputs_only(self._features)
        source = as_source(data, inputs, where="prediction data")
        model = InferenceModel(to_onnx(self.updated_model()).SerializeToString())
        return predict_source(model.run, source)

    def parameters(self) -> dict[str, npt.NDArray[np.float32]]:
        """The trained tensors and batch-norm running statistics, by "{layer}.{field}"."""
        names = {ref.name for ref in (*self.manifest.trainable, *self.manifest.frozen)}
        return {name: value for name, value in self._session.parameters().items() if name in names}

    def set_proximal_anchor(self, weights: dict[str, npt.NDArray[Any]]) -> None:
        """Pull training towards `weights` (every trainable tensor, by name) with FedProx's term
        (proximal_mu/2)·||w − anchor||²; the anchor starts as the weights the trainer was made
        from, which is what a federated round wants, so call this only to anchor elsewhere."""
        self._session.set_proximal_anchor(weights)

    def updated_model(self) -> model_pb2.Model:
        """A copy of the spec holding the weights after the last completed step."""
        if self.spec is None:
            raise MlspecError(
                f"{self.artifact_dir}: the trainer was built from artifacts alone; pass spec= to "
                "Trainer.from_artifacts to get the updated spec back"
            )
        return write_back(self.spec, self.parameters())

    def save(self, path: str | os.PathLike[str]) -> model_pb2.Model:
        """Write the updated spec atomically; the input spec file is never the target."""
        target = Path(path)
        if self._spec_path is not None and target.resolve() == self._spec_path.resolve():
            raise MlspecError(
                f"{target}: refusing to overwrite the input spec; save the update to another path"
            )
        updated = self.updated_model()
        _require_finite(updated)
        save(updated, target)
        return updated

    def save_checkpoint(self, directory: str | os.PathLike[str]) -> Path:
        """Checkpoint the current state (after a cancel too) so that `resume` continues from it."""
        with checkpoints.locked(Path(directory)):
            return self._save_checkpoint(Path(directory))

    def _save_checkpoint(self, directory: Path) -> Path:
        progress = self._progress or self._fresh_progress(0)
        return checkpoints.save(directory, self._session, progress)

    def close(self) -> None:
        """Remove the temporary artifacts directory `from_spec` made, if any."""
        if self._owned_dir is not None:
            self._owned_dir.cleanup()
            self._owned_dir = None

    def __enter__(self) -> Trainer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _source(self, data: object, feed_order: list[str], *, where: str) -> DataSource:
        """Checked data for these feeds; with a frozen front, the model's inputs go through it."""
        if self._front is None:
            return as_source(data, self._feeds(feed_order), where=where)
        cut = set(self._front.split.cut)
        wanted = [*self._front.inputs, *self._feeds([name for name in feed_order if name not in cut])]
        return self._front.through(as_source(data, wanted, where=where))

    def _feeds(self, names: list[str]) -> list[FeatureSpec]:
        by_name = {feature.name: feature for feature in self._features}
        missing = [name for name in names if name not in by_name]
        if missing:
            raise MlspecError(
                f"{self.artifact_dir}/manifest.json: feeds {missing} are not described as features"
            )
        return [by_name[name] for name in names]

    def _evaluate_source(self, source: DataSource) -> EvaluationResult:
        return evaluate_source(
            self._session,
            source,
            batch_size=self.hyperparameters.mini_batch_size,
            accuracy=accuracy_source(self.manifest),
        )

    def _fresh_progress(self, example_count: int) -> checkpoints.RunState:
        return checkpoints.RunState(
            hyperparameters=self.hyperparameters.as_dict(),
            example_count=example_count,
            base_learning_rate=self.hyperparameters.learning_rate,
            spec_hash=self.manifest.spec_sha256,
        )

    def _resume(self, directory: Path, fresh: checkpoints.RunState) -> checkpoints.RunState:
        found = checkpoints.load_latest(directory)
        if found is None:
            return fresh
        state, path = found
        checkpoints.check_compatible(state, fresh, directory / checkpoints.POINTER)
        self._session = open_session(
            self.artifact_dir, hyperparameters=self._optimizer_overrides, checkpoint=path
        )
        return state


def _input_dims(spec: model_pb2.Model | None, layer: str, shapes: dict[str, TensorInfo]) -> tuple[Dim, ...]:
    """The dims of a layer's input as shape inference knows them; () when unknown."""
    if spec is None:
        return ()
    found = find_layer(spec, layer)
    info = shapes.get(found.inputs[0]) if found is not None else None
    return info.dims if info is not None and info.dims is not None else ()


def _read_spec(source: ModelSource) -> tuple[model_pb2.Model, Path | None]:
    """The spec and the file it came from; a caller's Model is copied so later edits cannot leak in."""
    if isinstance(source, model_pb2.Model):
        copy = model_pb2.Model()
        copy.CopyFrom(source)
        return copy, None
    path = Path(source)
    return load(path), path


def _seeded(spec: model_pb2.Model, seed: int) -> model_pb2.Model:
    """The spec to convert: dropout masks are seeded at conversion, so an overridden seed goes in.

    Only the converted copy changes; write-back still targets the caller's spec.
    """
    if not spec.update_parameters.HasField("seed") or spec.update_parameters.seed.default_value == seed:
        return spec
    converted = model_pb2.Model()
    converted.CopyFrom(spec)
    converted.update_parameters.seed.default_value = seed
    return converted


def _digest(spec: model_pb2.Model) -> str:
    return hashlib.sha256(spec.SerializeToString(deterministic=True)).hexdigest()


def _cache_plan(split: FrozenSplit) -> str:
    count = len(split.front_layers)
    return (
        f"on: the {count} frozen layer{'s' if count != 1 else ''} in front "
        f"({shown(split.front_layers[0])} .. {shown(split.front_layers[-1])}) run once per example"
    )


def _require_finite(model: model_pb2.Model) -> None:
    """Non-finite values are errors, never written: a last step may overflow after its loss."""
    for layer in model.network.layers:
        for field, tensor in layer_tensors(layer):
            found = non_finite(tensor)
            if found is not None:
                raise DivergedError(
                    f"{layer_ref(layer.name)}.{field}: the trained weights hold {found[2]} "
                    "NaN or infinite values; nothing was written. Lower the learning rate or enable "
                    "gradient clipping"
                )
