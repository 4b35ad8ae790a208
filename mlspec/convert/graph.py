"""Spec -> one ONNX graph: the inference model, or the base graph of the training artifacts.

The training artifacts are generated from `build_graph(model, training=True)`; the bookkeeping
in GraphBuild is what that step needs to know about the graph (which initializers train, which
are state, which tensors carry updated statistics), so that it never has to rediscover it by
inspecting node types. The contract is in docs/ARCHITECTURE.md.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import onnx

from mlspec import __version__
from mlspec._proto import model_pb2, tensor_pb2
from mlspec.convert.backprop import backprop_layers, require_gradient_paths, updatable_layers
from mlspec.convert.emitters import EmitContext, emitter_for
from mlspec.convert.emitters.classifier import emit_predicted_label
from mlspec.convert.forms import PLAIN, GraphForms
from mlspec.spec.errors import MlspecError, layer_ref
from mlspec.spec.images import ImageInput
from mlspec.spec.kinds import trainable_tensors
from mlspec.spec.onnx_opsets import DOMAIN_OPSETS, OPSET
from mlspec.spec.tensor_info import ONNX_ELEMENT_TYPES, TensorInfo, feature_info

IR_VERSION = 10


@dataclass
class GraphBuild:
    """The ONNX model of a spec and what the artifacts step must know about it."""

    onnx_model: onnx.ModelProto
    # Initializers of tensors flagged is_updatable inside updatable layers.
    trainable: list[str] = field(default_factory=list)
    # Initializers kept in the checkpoint without training (running statistics in training mode).
    frozen_stateful: list[str] = field(default_factory=list)
    # Initializer -> graph tensor holding its value after a training step.
    running_stat_outputs: dict[str, str] = field(default_factory=dict)
    # Softmax output -> its logits input, for computing cross-entropy stably.
    logits_of: dict[str, str] = field(default_factory=dict)
    # Boolean constants feeding Dropout's training_mode; the eval model sets them to False.
    dropout_mode_inputs: list[str] = field(default_factory=list)


def build_graph(model: model_pb2.Model, *, training: bool, forms: GraphForms = PLAIN) -> GraphBuild:
    """The ONNX graph of `model`; with training=True, backprop-path layers take the backend's `forms`."""
    return _build(model, training=training, onnx_model=onnx.ModelProto(), forms=forms)


def to_onnx(model: model_pb2.Model, *, reusing: onnx.ModelProto | None = None) -> onnx.ModelProto:
    """The ONNX inference model: running statistics, no dropout, the classifier's label included.

    `reusing` is a model built from the same spec that the caller gives up (the artifacts step
    passes its training graph once ORT is done with it). It is rebuilt into the inference model,
    keeping the weight initializers both graphs hold where they are: building them again would
    copy every weight twice more (out of the spec, into the initializer).
    """
    if model.HasField("knn_classifier"):
        from mlspec.convert.knn_export import knn_to_onnx  # noqa: PLC0415 (it builds on this module)

        return knn_to_onnx(model)
    if reusing is None:
        return build_graph(model, training=False).onnx_model
    for field_descriptor, _ in reusing.ListFields():
        if field_descriptor.name != "graph":
            reusing.ClearField(field_descriptor.name)
    for field_descriptor, _ in reusing.graph.ListFields():
        if field_descriptor.name != "initializer":
            reusing.graph.ClearField(field_descriptor.name)
    return _build(model, training=False, onnx_model=reusing).onnx_model


def _build(
    model: model_pb2.Model, *, training: bool, onnx_model: onnx.ModelProto, forms: GraphForms = PLAIN
) -> GraphBuild:
    """Emit `model` into `onnx_model`, which is empty or holds only initializers to reuse by name."""
    if training:
        require_gradient_paths(model)
    opset_imports = _opset_imports(model)
    backprop = frozenset(backprop_layers(model)) if training else frozenset()
    # Assembled in place, the emitters creating the initializers inside the model's own graph:
    # onnx.helper.make_model and make_graph, or extending graph.initializer, would each copy
    # every weight once more.
    graph = onnx_model.graph
    reusable = {tensor.name: tensor for tensor in graph.initializer}
    ctx = EmitContext(model, training, backprop, forms=forms, graph=graph, reusable=reusable)
    for layer in model.network.layers:
        emitter_for(layer)(ctx, layer)
    output_names = _output_names(model, training=training)
    if model.classifier.predicted_feature_name in output_names:
        emit_predicted_label(ctx, model)
    _drop_unclaimed(graph, set(reusable) - set(ctx.initializers))
    onnx_model.ir_version = IR_VERSION
    onnx_model.producer_name = "mlspec"
    onnx_model.producer_version = __version__
    onnx_model.opset_import.extend(opset_imports)
    graph.name = model.metadata.name or "mlspec_model"
    graph.node.extend(ctx.nodes)
    graph.input.extend(input_info(feature) for feature in model.description.inputs)
    graph.output.extend(_output_info(ctx, model, name) for name in output_names)
    _copy_metadata(model, onnx_model)
    return GraphBuild(
        onnx_model=onnx_model,
        trainable=_trainable(model, ctx),
        frozen_stateful=ctx.frozen_stateful,
        running_stat_outputs=ctx.running_stat_outputs,
        logits_of=ctx.logits_of,
        dropout_mode_inputs=ctx.dropout_mode_inputs,
    )


def _drop_unclaimed(graph: onnx.GraphProto, names: set[str]) -> None:
    """Remove reused initializers this graph does not use (training-only constants and state)."""
    for index in reversed(range(len(graph.initializer))):
        if graph.initializer[index].name in names:
            del graph.initializer[index]


def _output_names(model: model_pb2.Model, *, training: bool) -> list[str]:
    """The described outputs, plus the classifier's; the training graph has no (string) label."""
    names = [feature.name for feature in model.description.outputs]
    if model.HasField("classifier"):
        for name in (model.classifier.predicted_probabilities_name, model.classifier.predicted_feature_name):
            if name and name not in names:
                names.append(name)
    if training and model.classifier.predicted_feature_name:
        names.remove(model.classifier.predicted_feature_name)
    return names


def input_info(feature: tensor_pb2.FeatureDescription) -> onnx.ValueInfoProto:
    info = feature_info(feature)
    where = f'model.description.inputs["{feature.name}"]'
    if info.dims is None or info.dtype not in ONNX_ELEMENT_TYPES:
        raise MlspecError(f"{where}: no usable type; give it a tensor type with a dtype and shape")
    if info.dtype in (tensor_pb2.FLOAT16, tensor_pb2.DOUBLE):
        # Weights become float32 initializers, so a float16 or double input would meet float32
        # weights in its first op, which ONNX refuses.
        raise MlspecError(
            f"{where}: dtype {tensor_pb2.DataType.Name(info.dtype)} is not supported; converted "
            "networks compute in float32, so declare the input FLOAT32"
        )
    return onnx.helper.make_tensor_value_info(feature.name, ONNX_ELEMENT_TYPES[info.dtype], list(info.dims))


def _output_info(ctx: EmitContext, model: model_pb2.Model, name: str) -> onnx.ValueInfoProto:
    where = f'model.description.outputs["{name}"]'
    if name == model.classifier.predicted_feature_name:
        probabilities = ctx.dims(model.classifier.predicted_probabilities_name)
        label_type = (
            onnx.TensorProto.STRING if model.classifier.HasField("string_labels") else onnx.TensorProto.INT64
        )
        return onnx.helper.make_tensor_value_info(
            name, label_type, [probabilities[0] if probabilities else None]
        )
    produced = {output for layer in model.network.layers for output in layer.outputs}
    if name not in produced:
        raise MlspecError(f"{where}: not produced by any layer")
    declared = next((feature_info(f) for f in model.description.outputs if f.name == name), None)
    inferred = ctx.tensor_info(name)
    dims = declared.dims if declared is not None and declared.dims else inferred.dims
    if dims is None:
        raise MlspecError(
            f"{where}: its shape cannot be inferred; declare the output's tensor type and shape"
        )
    dtype = inferred.dtype if inferred.dtype in ONNX_ELEMENT_TYPES else (declared or inferred).dtype
    # Every float weight becomes a float32 initializer, so float outputs are float32.
    element = onnx.TensorProto.FLOAT if TensorInfo(dtype, None).is_float else ONNX_ELEMENT_TYPES.get(dtype)
    if element is None:
        raise MlspecError(f"{where}: unknown dtype; declare the output's tensor type")
    return onnx.helper.make_tensor_value_info(name, element, list(dims))


def _opset_imports(model: model_pb2.Model) -> list[onnx.OperatorSetIdProto]:
    imports = [onnx.helper.make_opsetid("", OPSET)]
    for layer in model.network.layers:
        domain = layer.onnx_node.domain if layer.WhichOneof("kind") == "onnx_node" else ""
        if domain in ("", "ai.onnx") or any(entry.domain == domain for entry in imports):
            continue
        if domain not in DOMAIN_OPSETS:
            raise MlspecError(
                f"{layer_ref(layer.name)}.onnx_node.domain: {domain!r} is not supported; "
                f"use the default domain or one of {', '.join(DOMAIN_OPSETS)}"
            )
        imports.append(onnx.helper.make_opsetid(domain, DOMAIN_OPSETS[domain]))
    return imports


def _copy_metadata(model: model_pb2.Model, onnx_model: onnx.ModelProto) -> None:
    meta = model.metadata
    onnx_model.doc_string = meta.short_description
    props = {key: value for key, value in (("author", meta.author), ("license", meta.license)) if value}
    if meta.version:
        onnx_model.model_version = int(meta.version) if meta.version.isdigit() else 0
        props["version"] = meta.version
    props.update(meta.user_defined)
    for feature in model.description.inputs:
        if feature.HasField("image"):
            # The ONNX model takes the preprocessed tensor; this says how pixels become it.
            props[f"mlspec.image.{feature.name}"] = json.dumps(ImageInput.of(feature.image).to_json())
    onnx.helper.set_model_props(onnx_model, props)


def _trainable(model: model_pb2.Model, ctx: EmitContext) -> list[str]:
    names = []
    for layer in updatable_layers(model):
        for field_name, tensor in trainable_tensors(layer):
            name = f"{layer.name}.{field_name}"
            if tensor.is_updatable and name in ctx.initializers:
                names.append(name)
    return names
