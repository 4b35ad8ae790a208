"""Spec -> portable artifacts: one training-step model, eval and inference models, state, loop.

Files (docs/portable_state.md): `step_model.onnx` (parameters, optimizer state, hyperparameters
and a batch in; new parameters, new state, loss and gradients out), `eval_model.onnx`
(parameters and a batch in; loss and the model's outputs out), `inference_model.onnx`,
`state.ckpt` (the initial state in the portable state format), `loop.json` (which step output
replaces which input) and `manifest.json`. Every op is a standard ONNX op, so any ONNX runtime
(onnxruntime, onnxruntime-node, -web, mobile) can run the loop.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from mlspec._proto import model_pb2
from mlspec.backends.portable.autodiff import NotDifferentiable, add_gradients
from mlspec.backends.portable.forms import PORTABLE_FORMS
from mlspec.backends.portable.optimizer import (
    NEXT_PREFIX,
    STEP_INPUT,
    append_optimizer,
    hyper_input,
    hyper_inputs,
    state_tensors,
)
from mlspec.backends.portable.simplify import drop_broadcast_expands
from mlspec.backends.portable.state import write_state
from mlspec.backends.shared import convert
from mlspec.convert.artifacts import save_checked, staging_directory
from mlspec.convert.graph import build_graph, to_onnx
from mlspec.convert.losses import build_losses
from mlspec.convert.manifest import FILE_NAME, Manifest
from mlspec.convert.optimizers import OptimizerPlan, anchor_names
from mlspec.spec.errors import MlspecError

NAME = "portable"
STEP_MODEL = "step_model.onnx"
EVAL_MODEL = "eval_model.onnx"
INFERENCE_MODEL = "inference_model.onnx"
STATE = "state.ckpt"
LOOP = "loop.json"
ARTIFACT_FILES = (STEP_MODEL, EVAL_MODEL, INFERENCE_MODEL, STATE, LOOP, FILE_NAME)


class NotCoveredError(MlspecError):
    """The spec needs something the portable backend cannot train yet (named in the message)."""


def write_artifacts(model: model_pb2.Model, out_dir: str | os.PathLike[str]) -> Manifest:
    """Validate, build every file into a staging directory, check them, swap them into `out_dir`."""
    target = Path(out_dir)
    conversion = convert(model, target, ARTIFACT_FILES, PORTABLE_FORMS)
    build, plan, trainable = conversion.build, conversion.plan, conversion.trainable
    losses = conversion.losses
    running = dict(build.running_stat_outputs)  # batch-norm running statistic -> its new value
    forward = build.onnx_model
    loss = losses.append_to(forward.graph)
    parameters = _parameters_as_inputs(forward, [*trainable, *running])
    del forward.graph.output[:]
    forward.graph.output.append(helper.make_tensor_value_info(loss, TensorProto.FLOAT, []))
    try:
        step = add_gradients(forward, loss, trainable)
    except NotDifferentiable as exc:
        raise NotCoveredError(str(exc)) from None
    append_optimizer(step.graph, plan, trainable)
    _append_running_statistics(step.graph, running, parameters)
    drop_broadcast_expands(step)
    evaluation = _eval_model(model, [*trainable, *running])
    target.parent.mkdir(parents=True, exist_ok=True)
    with staging_directory(target) as staging:
        for name, proto in ((STEP_MODEL, step), (EVAL_MODEL, evaluation), (INFERENCE_MODEL, to_onnx(model))):
            save_checked(proto, staging / name)
        state = {name: parameters[name] for name in (*trainable, *running)}
        for name in trainable:
            state.update({s: np.zeros_like(parameters[name]) for s in state_tensors(plan, name)})
        anchors = anchor_names(plan, trainable)
        state.update({anchor: parameters[name] for name, anchor in anchors.items()})
        write_state(staging / STATE, state, {"step": 0})
        carried = [*trainable, *(s for name in trainable for s in state_tensors(plan, name)), *running]
        internal = {*carried, *anchors.values(), *(hyper_input(h) for h in hyper_inputs(plan)), STEP_INPUT}
        feeds = _feeds(step, internal)
        loop = _loop(plan, carried, feeds, loss, list(anchors.values()))
        (staging / LOOP).write_text(json.dumps(loop, indent=2, sort_keys=True), encoding="utf-8")
        return conversion.publish(
            staging,
            target,
            backend=NAME,
            graph_inputs=(feeds, _feeds(evaluation, {*trainable, *running})),
            graph_outputs=([loss], [output.name for output in evaluation.graph.output]),
            frozen=list(running),
            running={},  # the step model carries them (loop.json); nothing to write back
        )


def _parameters_as_inputs(model: onnx.ModelProto, names: list[str]) -> dict[str, np.ndarray]:
    """Move the named initializers out of `model` into typed graph inputs; return their values."""
    wanted = set(names)
    values: dict[str, np.ndarray] = {}
    kept = []
    for tensor in model.graph.initializer:
        if tensor.name in wanted:
            values[tensor.name] = numpy_helper.to_array(tensor).astype(np.float32)
        else:
            kept.append(tensor)
    del model.graph.initializer[:]
    model.graph.initializer.extend(kept)
    model.graph.input.extend(
        helper.make_tensor_value_info(name, TensorProto.FLOAT, list(values[name].shape)) for name in names
    )
    return values


def _append_running_statistics(
    graph: onnx.GraphProto, running: dict[str, str], values: dict[str, np.ndarray]
) -> None:
    """Each batch-norm running statistic's new value becomes the step output next/<name>."""
    for name, new_value in running.items():
        graph.node.append(
            helper.make_node("Identity", [new_value], [NEXT_PREFIX + name], name=NEXT_PREFIX + name)
        )
        graph.output.append(
            helper.make_tensor_value_info(NEXT_PREFIX + name, TensorProto.FLOAT, list(values[name].shape))
        )


def _eval_model(model: model_pb2.Model, parameters: list[str]) -> onnx.ModelProto:
    """Inference semantics plus the loss (output 0), the parameters fed as inputs.

    The classifier's label lookup is left out (as in the ort-training eval model): its string
    output may share a name with the target the loss reads.
    """
    numeric = model_pb2.Model()
    numeric.CopyFrom(model)
    numeric.classifier.predicted_feature_name = ""
    kept = [f for f in numeric.description.outputs if f.type.WhichOneof("kind") == "tensor"]
    del numeric.description.outputs[:]
    numeric.description.outputs.extend(kept)
    build = build_graph(numeric, training=False)
    evaluation = build.onnx_model
    loss = build_losses(numeric, build.logits_of).append_to(evaluation.graph)
    _parameters_as_inputs(evaluation, parameters)
    outputs = list(evaluation.graph.output)
    del evaluation.graph.output[:]
    evaluation.graph.output.append(helper.make_tensor_value_info(loss, TensorProto.FLOAT, []))
    evaluation.graph.output.extend(outputs)
    return evaluation


def _feeds(model: onnx.ModelProto, internal: set[str]) -> list[str]:
    return [value.name for value in model.graph.input if value.name not in internal]


def _loop(
    plan: OptimizerPlan, carried: list[str], feeds: list[str], loss: str, anchors: list[str]
) -> dict[str, Any]:
    """What a runtime in any language needs to drive the step model (docs/portable_state.md)."""
    return {
        "format": "mlspec-portable-loop",
        "version": 1,
        "step_model": STEP_MODEL,
        "eval_model": EVAL_MODEL,
        "state": STATE,
        "carried": [{"input": name, "output": NEXT_PREFIX + name} for name in carried],
        "anchors": anchors,
        "hyperparameters": {
            name: {"input": hyper_input(name), "dtype": "bool" if name == "nesterov" else "float32"}
            for name in hyper_inputs(plan)
        },
        "step_input": STEP_INPUT if plan.kind != "sgd" else None,
        "feeds": feeds,
        "loss_output": loss,
    }
