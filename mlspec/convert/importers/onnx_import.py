"""ONNX -> mlspec: typed, editable layers where the graph allows, frozen onnx_node layers elsewhere.

Conventions of the result:
- layer names come from ONNX node names, made safe ("/layer1/conv/Conv" -> "layer1_conv_Conv")
  and unique, or from the op type when a node has no name;
- tensor names, graph input names and graph output names are kept, so the exported model takes
  the same feeds and yields the same outputs;
- input shapes are recorded as declared, symbolic dims kept (an unnamed leading dim becomes
  "batch");
- float inputs must be float32: float64 and float16 graphs are refused (mlspec trains in float32,
  and converting a graph's arithmetic type is beyond an import), float16 or double weights of
  a float32 graph are upcast or kept as written inside frozen nodes;
- every weight starts frozen; use the builder (make_updatable) to choose what trains.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

import onnx

from mlspec._proto import model_pb2, tensor_pb2
from mlspec.convert.importers.boundary import import_boundary
from mlspec.convert.importers.onnx_checks import OnnxImportError
from mlspec.convert.importers.onnx_classifier import LABELS_METADATA_KEY, ClassifierFinding, find_classifier
from mlspec.convert.importers.onnx_context import MappingSession, NodeContext
from mlspec.convert.importers.onnx_generic import GenericMapper, spec_dtype_of, tensor_type
from mlspec.convert.importers.onnx_graph import load_onnx, prepare
from mlspec.convert.importers.onnx_ops import MAPPERS
from mlspec.spec.io import SPEC_VERSION

_INPUT_TYPES = (
    tensor_pb2.FLOAT32,
    tensor_pb2.INT64,
    tensor_pb2.INT32,
    tensor_pb2.INT8,
    tensor_pb2.UINT8,
    tensor_pb2.BOOL,
)


def import_onnx(
    source: str | os.PathLike[str] | onnx.ModelProto, labels: Sequence[str] | None = None
) -> model_pb2.Model:
    """Import an ONNX model (file path or ModelProto) as a spec; see the module docstring."""
    raw, where = load_onnx(source)
    with import_boundary(OnnxImportError, where, "ONNX"):
        return _import(raw, where, labels)


def _import(raw: onnx.ModelProto, where: str, labels: Sequence[str] | None) -> model_pb2.Model:
    prepared = prepare(raw, where)
    session = MappingSession(prepared)
    model = model_pb2.Model(spec_version=SPEC_VERSION)
    _describe_inputs(model, session, where)
    classifier = find_classifier(prepared, labels, where)
    if classifier is None and labels is not None:
        raise OnnxImportError(
            f"{where}: class labels were given, but no graph output is a Softmax over [batch, classes] "
            "and the first output is not [batch, classes] float logits (or their LogSoftmax), so the "
            "model is not a classifier; import it without labels"
        )
    skipped = {id(node) for node in classifier.label_nodes} if classifier else set()
    _map_nodes(model, session, skipped)
    if classifier is not None and classifier.logits:
        softmax = model.network.layers.add(
            name=session.names.take("softmax", "softmax"),
            inputs=[classifier.logits],
            outputs=[classifier.probabilities],
        )
        softmax.softmax.SetInParent()
    _describe_outputs(model, session, classifier)
    _copy_metadata(model, raw)
    return model


def _map_nodes(model: model_pb2.Model, session: MappingSession, skipped: set[int]) -> None:
    generic = GenericMapper(session)
    for node in session.graph.nodes:
        if id(node) in skipped or session.is_absorbed(node):
            continue
        if node.output and all(name in generic.emitted for name in node.output if name):
            continue
        mapper = MAPPERS.get(node.op_type) if node.domain in ("", "ai.onnx") else None
        layers = mapper(NodeContext(node, session)) if mapper else None
        model.network.layers.extend(layers if layers is not None else generic.map(node))


def _describe_inputs(model: model_pb2.Model, session: MappingSession, where: str) -> None:
    for value in session.graph.graph.input:
        if value.name not in session.graph.input_names():
            continue
        feature = model.description.inputs.add(name=value.name, short_description=value.doc_string)
        elem_type = value.type.tensor_type.elem_type
        declared = tensor_type(session, value.name)
        if not value.type.HasField("tensor_type") or spec_dtype_of(elem_type) not in _INPUT_TYPES:
            kind = onnx.TensorProto.DataType.Name(elem_type) if elem_type else "a non-tensor type"
            raise OnnxImportError(
                f'{where}: input "{value.name}" is {kind}; mlspec imports float32, int64, int32, int8, uint8 '
                "and bool inputs (mlspec trains in float32: re-export a float64 or float16 model as float32)"
            )
        if declared is None:
            raise OnnxImportError(
                f'{where}: input "{value.name}" has no shape; re-export the model with input shapes '
                "(for example a dynamic batch axis)"
            )
        feature.type.tensor.CopyFrom(declared)


def _describe_outputs(
    model: model_pb2.Model, session: MappingSession, classifier: ClassifierFinding | None
) -> None:
    if classifier is not None and classifier.logits:
        probabilities = model.description.outputs.add(
            name=classifier.probabilities, short_description="Class probabilities (softmax of the logits)"
        )
        probabilities.type.tensor.dtype = tensor_pb2.FLOAT32
        probabilities.type.tensor.shape.add(symbol="batch")
        probabilities.type.tensor.shape.add(size=classifier.classes)
    for value in session.graph.graph.output:
        if classifier is not None and value.name == classifier.replaced_output:
            continue
        feature = model.description.outputs.add(name=value.name, short_description=value.doc_string)
        if classifier is not None and value.name == classifier.label_output:
            continue
        declared = tensor_type(session, value.name)
        if declared is not None:
            feature.type.tensor.CopyFrom(declared)
    if classifier is None:
        return
    info = model.classifier
    info.predicted_probabilities_name = classifier.probabilities
    info.predicted_feature_name = classifier.label_output
    label = next((f for f in model.description.outputs if f.name == classifier.label_output), None)
    if label is None:
        label = model.description.outputs.add(
            name=classifier.label_output, short_description="Predicted class"
        )
    if all(isinstance(value, str) for value in classifier.labels):
        info.string_labels.values.extend(str(value) for value in classifier.labels)
        label.type.string_type.SetInParent()
    else:
        info.int64_labels.values.extend(int(value) for value in classifier.labels)
        label.type.int64_type.SetInParent()


def _copy_metadata(model: model_pb2.Model, raw: onnx.ModelProto) -> None:
    metadata = model.metadata
    metadata.name = raw.graph.name
    metadata.short_description = raw.doc_string
    if raw.model_version:
        metadata.version = str(raw.model_version)
    for prop in raw.metadata_props:
        if prop.key != LABELS_METADATA_KEY:
            metadata.user_defined[prop.key] = prop.value
    if raw.producer_name:
        metadata.user_defined["onnx_producer"] = f"{raw.producer_name} {raw.producer_version}".strip()
