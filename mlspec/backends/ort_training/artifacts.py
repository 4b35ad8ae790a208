"""Spec -> onnxruntime-training artifacts plus inference model and manifest, written all at once."""

from __future__ import annotations

import os
from pathlib import Path

import onnx

from mlspec._proto import model_pb2
from mlspec.backends.ort_training.forms import ORT_FORMS
from mlspec.backends.ort_training.ort import OPTIMIZER_MODEL, build_optimizer_model, generate_training_models
from mlspec.backends.shared import convert
from mlspec.convert.artifact_graphs import (
    checkable_training_model,
    finish_eval_model,
    finish_training_model,
    user_inputs,
    user_outputs,
)
from mlspec.convert.artifacts import save_checked, staging_directory
from mlspec.convert.backprop import backprop_layers
from mlspec.convert.graph import to_onnx
from mlspec.convert.manifest import FILE_NAME, Manifest
from mlspec.convert.optimizers import state_initializers, state_names
from mlspec.spec.errors import MlspecError, layer_ref
from mlspec.spec.kinds import ort_lacks_gradient

NAME = "ort-training"
TRAINING_MODEL = "training_model.onnx"
EVAL_MODEL = "eval_model.onnx"
CHECKPOINT = "checkpoint"
INFERENCE_MODEL = "inference_model.onnx"
ARTIFACT_FILES = (TRAINING_MODEL, EVAL_MODEL, OPTIMIZER_MODEL, CHECKPOINT, INFERENCE_MODEL, FILE_NAME)


def _refuse_ops_without_gradient(model: model_pb2.Model) -> None:
    """Refuse, naming the layer, an onnx_node on the backprop path whose op only the portable
    backend differentiates (ConvTranspose has no CPU gradient kernel in onnxruntime-training
    1.19.2), instead of failing inside ORT's gradient builder."""
    on_path = backprop_layers(model)
    for layer in model.network.layers:
        if layer.name in on_path and ort_lacks_gradient(layer):
            op = layer.onnx_node.op_type
            raise MlspecError(
                f"{layer_ref(layer.name)} (onnx_node {op}): onnxruntime-training has no gradient for "
                f"{op}, and this layer is on the backprop path. Fix: train with --backend auto or "
                "portable (backend='auto' in Python), or make only layers after it updatable (--layers)"
            )


def write_artifacts(model: model_pb2.Model, out_dir: str | os.PathLike[str]) -> Manifest:
    """Write the six artifact files into `out_dir` (created if missing) and return the manifest.

    Every check that can refuse the spec (validation, gradient paths, losses, label mapping)
    runs before ORT is called, so an unconvertible spec fails fast with the layer or loss named.
    """
    target = Path(out_dir)
    conversion = convert(model, target, ARTIFACT_FILES, ORT_FORMS, check=_refuse_ops_without_gradient)
    build, plan, trainable = conversion.build, conversion.plan, conversion.trainable
    losses = conversion.losses
    initializers = {tensor.name: tensor for tensor in build.onnx_model.graph.initializer}
    base = build.onnx_model  # ours alone, so extended in place rather than copied (it holds every weight)
    base.graph.initializer.extend(state_initializers(plan, {name: initializers[name] for name in trainable}))
    frozen = [*build.frozen_stateful, *state_names(plan, trainable)]
    running = dict(build.running_stat_outputs)
    target.parent.mkdir(parents=True, exist_ok=True)
    with staging_directory(target) as staging:
        generate_training_models(
            base,
            append_loss=losses.append_to,
            trainable=trainable,
            frozen=frozen,
            additional_outputs=list(running.values()),
            directory=staging,
        )
        training = finish_training_model(onnx.load(os.fspath(staging / TRAINING_MODEL)), plan, trainable)
        evaluation = finish_eval_model(
            onnx.load(os.fspath(staging / EVAL_MODEL)),
            running_outputs=list(running.values()),
            model_outputs=list(base.graph.output),
            dropout_mode_inputs=list(build.dropout_mode_inputs),
        )
        opset = next(o.version for o in base.opset_import if o.domain in ("", "ai.onnx"))
        optimizer = build_optimizer_model(plan.ort_kind, plan.model_settings(plan.defaults()), opset)
        # ORT holds its own copy of the graph and the checkpoint is written, so the base graph is
        # spent: the inference model is rebuilt inside it, its weights kept rather than rebuilt.
        inference = to_onnx(model, reusing=base)
        for name, proto in (
            (TRAINING_MODEL, training),
            (EVAL_MODEL, evaluation),
            (OPTIMIZER_MODEL, optimizer),
            (INFERENCE_MODEL, inference),
        ):
            # The training model is small to check without its weights (they live in the checkpoint).
            checkable = checkable_training_model(proto) if name == TRAINING_MODEL else None
            save_checked(proto, staging / name, checkable=checkable)
        parameter_names = set(trainable) | set(frozen)
        return conversion.publish(
            staging,
            target,
            backend=NAME,
            graph_inputs=(user_inputs(training, parameter_names), user_inputs(evaluation, parameter_names)),
            graph_outputs=(user_outputs(training), [output.name for output in evaluation.graph.output]),
            frozen=list(build.frozen_stateful),
            running=running,
        )
