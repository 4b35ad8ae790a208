"""Shape inference: the dtype and dims of every tensor in a spec, layer by layer.

Validation, the builder and the converter all need to know what flows between layers (how many
channels reach a convolution, how many classes a softmax yields). Inference never raises on a
bad spec: each layer whose shapes do not fit becomes a Problem and its outputs become unknown,
so that one mistake does not hide the ones after it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from mlspec._proto import layers_pb2, model_pb2, tensor_pb2
from mlspec.spec.errors import Problem, ShapeError, layer_ref
from mlspec.spec.kinds import KINDS, check_attributes
from mlspec.spec.tensor_info import (
    BATCH,
    STRING,
    UNKNOWN,
    Dim,
    TensorInfo,
    dtype_label,
    feature_info,
    format_dims,
    tensor_type_info,
)

__all__ = [
    "BATCH",
    "STRING",
    "UNKNOWN",
    "Dim",
    "ShapeReport",
    "TensorInfo",
    "check_shapes",
    "dtype_label",
    "feature_info",
    "format_dims",
    "infer_layer",
    "infer_shapes",
    "tensor_type_info",
]


@dataclass
class ShapeReport:
    """Every tensor's info (unknown where inference could not proceed) and the problems found."""

    tensors: dict[str, TensorInfo] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)


UndeclaredOutputs = Callable[[layers_pb2.Layer, list[TensorInfo]], list[TensorInfo] | None]
"""Outputs of a generic node that declares none (validate asks onnx), or None when unknown."""


def check_shapes(model: model_pb2.Model, undeclared: UndeclaredOutputs | None = None) -> ShapeReport:
    """Infer shapes in layer order, turning each misfit into a Problem instead of an exception.

    `undeclared` infers the outputs of an onnx_node without output_types; without it they are
    unknown and the layers after it are checked only as far as unknown shapes allow."""
    report = ShapeReport()
    inputs_by_name = {feature.name: feature_info(feature) for feature in model.description.inputs}
    report.tensors.update(inputs_by_name)
    for index, layer in enumerate(model.network.layers):
        # An undefined input is the graph rules' finding; here it only makes the outputs unknown.
        inputs = [report.tensors.get(name) for name in layer.inputs]
        outputs: list[TensorInfo] = []
        try:
            if all(info is not None for info in inputs):
                known = [info for info in inputs if info is not None]
                outputs = infer_layer(layer, known)
                if undeclared is not None and layer.HasField("onnx_node"):
                    outputs = undeclared(layer, known) or outputs
            else:
                check_attributes(layer)
        except ShapeError as error:
            where = f"{layer_ref(layer.name, index)}{error.field}"
            report.problems.append(Problem(where, error.message, error.fix))
        for position, name in enumerate(layer.outputs):
            if name not in inputs_by_name:  # shadowing an input is a graph problem; keep the input
                report.tensors[name] = outputs[position] if position < len(outputs) else UNKNOWN
    return report


def infer_layer(layer: layers_pb2.Layer, inputs: list[TensorInfo]) -> list[TensorInfo]:
    """Infos of the layer's outputs by its kind's shape rule (mlspec.spec.layer_kinds); empty when
    the graph rules already reject the layer's input count."""
    kind = layer.WhichOneof("kind")
    if kind is None:
        return []
    check_attributes(layer)
    info = KINDS[kind]
    if len(inputs) < info.min_inputs or (info.max_inputs is not None and len(inputs) > info.max_inputs):
        return []
    # An imported node declares its outputs, so only the other kinds need known input dims.
    if kind != "onnx_node" and any(tensor.dims is None for tensor in inputs):
        dtype = tensor_pb2.FLOAT32 if kind == "embedding" else inputs[0].dtype
        return [TensorInfo(dtype, None)]
    outputs = info.shape(layer, inputs)
    return outputs if isinstance(outputs, list) else [outputs]


def infer_shapes(model: model_pb2.Model) -> dict[str, TensorInfo]:
    """Best-effort info for every input and layer output; use mlspec.validate to see problems."""
    return check_shapes(model).tensors
