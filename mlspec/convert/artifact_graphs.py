"""Finishing touches on the models ORT generates, all plain ONNX edits.

ORT's generator gives a training model whose gradients flow straight into its accumulators and
an eval model that still carries the training-only outputs. The training model gets the
optimizer's gradient transforms (optimizers.py); the eval model loses the batch-norm running
statistic outputs (invalid once training_mode is off), has dropout switched off, gets ReLU back
as one node (emitters/activation.py), and exposes the network's outputs so that evaluation can
report predictions alongside the loss.
"""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
import onnx
from onnx import numpy_helper

from mlspec.convert.emitters.activation import restore_relu_nodes
from mlspec.convert.optimizers import OptimizerPlan, insert_gradient_transforms

MAX_IR_VERSION = 10
GRADIENT_BUFFER_SUFFIX = "_grad.accumulation.buffer"
GRADIENT_FLAG_SUFFIX = "_grad.accumulation.out"
LAZY_RESET_INPUT = "lazy_reset_grad"


def finish_training_model(
    model: onnx.ModelProto, plan: OptimizerPlan, trainable: list[str]
) -> onnx.ModelProto:
    insert_gradient_transforms(model, plan, trainable)
    model.ir_version = min(model.ir_version, MAX_IR_VERSION)
    return model


def finish_eval_model(
    model: onnx.ModelProto,
    *,
    running_outputs: Collection[str],
    model_outputs: list[onnx.ValueInfoProto],
    dropout_mode_inputs: Collection[str],
) -> onnx.ModelProto:
    graph = model.graph
    dropped = set(running_outputs)
    kept = [output for output in graph.output if output.name not in dropped]
    for node in graph.node:
        if node.op_type == "BatchNormalization" and len(node.output) > 1:
            del node.output[1:]
            for attribute in node.attribute:
                if attribute.name == "training_mode":
                    attribute.i = 0
    _switch_off(graph, set(dropout_mode_inputs))
    restore_relu_nodes(graph)  # the mask form only speeds up gradients
    present = {output.name for output in kept}
    extra = [value for value in model_outputs if value.name not in dropped and value.name not in present]
    kept_info = [value for value in graph.value_info if value.name not in dropped]
    del graph.value_info[:]
    graph.value_info.extend(kept_info)
    del graph.output[:]
    graph.output.extend([*kept, *extra])
    _drop_dead_nodes(graph)
    model.ir_version = min(model.ir_version, MAX_IR_VERSION)
    return model


def _drop_dead_nodes(graph: onnx.GraphProto) -> None:
    """Remove nodes no output depends on (the running-statistic updates once their outputs are
    dropped), then the initializers only they read."""
    needed = {output.name for output in graph.output}
    live = []
    for node in reversed(graph.node):
        if any(name in needed for name in node.output):
            live.append(node)
            needed.update(node.input)
    if len(live) == len(graph.node):
        return
    live.reverse()
    del graph.node[:]
    graph.node.extend(live)
    orphans = [tensor for tensor in graph.initializer if tensor.name not in needed]
    for tensor in orphans:
        graph.initializer.remove(tensor)


def _switch_off(graph: onnx.GraphProto, names: set[str]) -> None:
    """Set dropout's training_mode constants to False, whether initializers or Constant nodes."""
    false = np.array(False)
    for index, tensor in enumerate(graph.initializer):
        if tensor.name in names:
            graph.initializer[index].CopyFrom(
                numpy_helper.from_array(false.reshape(tuple(tensor.dims)), tensor.name)
            )
    consumed = {name for node in graph.node for name in node.input}
    unused = [tensor for tensor in graph.initializer if tensor.name in names and tensor.name not in consumed]
    for tensor in unused:  # ORT's generator already cut the Dropout edge; ORT warns about orphans
        graph.initializer.remove(tensor)
    for node in graph.node:
        if node.op_type == "Constant" and node.output[0] in names:
            for attribute in node.attribute:
                if attribute.name == "value":
                    attribute.t.CopyFrom(
                        numpy_helper.from_array(false.reshape(tuple(attribute.t.dims)), attribute.t.name)
                    )


def user_inputs(model: onnx.ModelProto, parameters: Collection[str]) -> list[str]:
    """The inputs a caller feeds, in ORT's order: everything but parameters and gradient buffers."""
    return [
        value.name
        for value in model.graph.input
        if value.name not in parameters
        and not value.name.endswith(GRADIENT_BUFFER_SUFFIX)
        and value.name != LAZY_RESET_INPUT
    ]


def user_outputs(model: onnx.ModelProto) -> list[str]:
    """The outputs Module returns: ORT hides its gradient-accumulation flags."""
    return [value.name for value in model.graph.output if not value.name.endswith(GRADIENT_FLAG_SUFFIX)]


def checkable_training_model(model: onnx.ModelProto) -> onnx.ModelProto:
    """A copy that onnx.checker can judge: ORT's gradient kernels moved out of the ONNX domain.

    ORT registers a few gradient ops (MaxPoolGrad, AveragePoolGrad, ...) in the default ONNX
    domain, where the checker, knowing no such ops, rejects them. In the copy those nodes move
    to com.microsoft, which the checker leaves alone, so every other node is still fully checked.
    """
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    for node in copy.graph.node:
        ort_only = node.op_type.endswith("Grad") and not _known_onnx_op(node.op_type)
        if node.domain in ("", "ai.onnx") and ort_only:
            node.domain = "com.microsoft"
    return copy


def _known_onnx_op(op_type: str) -> bool:
    return bool(onnx.defs.has(op_type))
