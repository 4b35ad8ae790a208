"""Preparing an ONNX graph for mapping: one opset, known shapes, constants folded, aliases gone.

Exporters write the same network in many ways: weights as initializers or as Constant nodes,
reshape targets computed at run time from Shape -> Gather -> Unsqueeze -> Concat, Identity
chains between layers, and opsets from 9 to 21 whose operators changed meaning over time
(Clip's bounds moved from attributes to inputs, Softmax stopped flattening to 2-D). Mapping
stays simple only if it sees one canonical graph, so this module:

1. upgrades the model to opset 21 with onnx's version converter (the opset our exporter emits,
   so frozen `onnx_node` layers keep their meaning when written back out);
2. runs ONNX shape inference, so mappers know ranks and channel counts;
3. removes Identity nodes, keeping graph output names;
4. folds every node whose inputs are all known into a constant. Shape() of a tensor whose only
   unknown dim is the leading batch (the symbol a graph input's axis 0 has; a leading dim that
   inference named otherwise, such as batch x heads in attention, is not the batch) folds too:
   the batch entry becomes BATCH_SENTINEL, which survives ops that only move values around
   (Gather, Concat, Unsqueeze, ...), so a Reshape target built at run time arrives as e.g.
   [BATCH_SENTINEL, -1] and maps to a batch-keeping reshape.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from onnx import numpy_helper, shape_inference, version_converter
from onnx.reference import ReferenceEvaluator

from mlspec.convert.importers.onnx_budget import FOLD_BUDGET, FoldTooBigError, affordable, predicted_elements
from mlspec.convert.importers.onnx_checks import TARGET_OPSET, OnnxImportError, check_model
from mlspec.convert.importers.onnx_external import inline_external_data, read_model_file
from mlspec.convert.importers.onnx_ml import drop_zipmaps
from mlspec.convert.importers.onnx_native import NativeStepError, parse_model, run_isolated
from mlspec.convert.importers.onnx_shape_values import (
    BATCH_SENTINEL,
    LEAD_SENTINEL,
    has_sentinel,
    materialise_shape_values,
)

# Ops that only select, reorder or repackage values: the batch sentinel passes through them
# unchanged, so their result is still a meaningful shape. Arithmetic on it would not be.
_VALUE_MOVING_OPS = frozenset(
    {"Gather", "Concat", "Unsqueeze", "Squeeze", "Slice", "Cast", "Reshape", "Flatten", "Identity"}
)
# Never folded: their value differs from run to run.
_RANDOM_OPS = frozenset(
    {"RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike", "Multinomial", "Bernoulli"}
)

MAX_INFERENCE_ROUNDS = 32
"""Rounds of shape inference after folded shape values are written in (one per chain of shapes
that depend on each other; a ShuffleNet needs one per channel shuffle)."""
_SOFTMAX_LIKE = frozenset({"Softmax", "LogSoftmax", "Hardmax"})
_SOFTMAX_CHANGE = 13
_PARKING_DOMAIN = "mlspec.import.parked"

Dim = int | str | None


@dataclass
class PreparedGraph:
    """The opset-21 graph with what mapping needs to know about every tensor."""

    model: onnx.ModelProto
    nodes: list[onnx.NodeProto]
    constants: dict[str, np.ndarray] = field(default_factory=dict)
    folded_by: dict[str, onnx.NodeProto] = field(default_factory=dict)
    types: dict[str, onnx.TypeProto] = field(default_factory=dict)
    declared_labels: dict[str, list[str] | list[int]] = field(default_factory=dict)
    """Output name -> class labels a dropped ZipMap declared for it (see onnx_ml)."""
    _batch_symbols: set[Dim] | None = None

    @property
    def graph(self) -> onnx.GraphProto:
        return self.model.graph

    def input_names(self) -> list[str]:
        initializers = {init.name for init in self.graph.initializer}
        return [value.name for value in self.graph.input if value.name not in initializers]

    def output_names(self) -> list[str]:
        return [value.name for value in self.graph.output]

    def is_batch(self, dim: Dim) -> bool:
        """Whether a dim is the batch: the symbol some graph input has on axis 0."""
        if not isinstance(dim, str) or not dim:
            return False
        if self._batch_symbols is None:
            leading = (self.dims(name) for name in self.input_names())
            self._batch_symbols = {dims[0] for dims in leading if dims and isinstance(dims[0], str)}
        return dim in self._batch_symbols

    def dims(self, name: str) -> tuple[Dim, ...] | None:
        """Dims from shape inference: ints, symbol names, or None per unknown dim."""
        tensor_type = self.types.get(name)
        if tensor_type is None or not tensor_type.HasField("tensor_type"):
            return None
        if not tensor_type.tensor_type.HasField("shape"):
            return None
        result: list[Dim] = []
        for dim in tensor_type.tensor_type.shape.dim:
            if dim.HasField("dim_value"):
                result.append(int(dim.dim_value))
            elif dim.HasField("dim_param"):
                result.append(dim.dim_param)
            else:
                result.append(None)
        return tuple(result)

    def elem_type(self, name: str) -> int:
        tensor_type = self.types.get(name)
        if tensor_type is None or not tensor_type.HasField("tensor_type"):
            return onnx.TensorProto.UNDEFINED
        return int(tensor_type.tensor_type.elem_type)


def load_onnx(source: str | os.PathLike[str] | onnx.ModelProto) -> tuple[onnx.ModelProto, str]:
    """The model (external data inlined, from its own folder only) and a label naming it in errors."""
    if isinstance(source, onnx.ModelProto):
        copy = onnx.ModelProto()
        copy.CopyFrom(source)
        where = f'ONNX model "{copy.graph.name}"' if copy.graph.name else "ONNX model"
        inline_external_data(copy, None, where)
        return copy, where
    path = Path(source)
    return read_model_file(path), str(path)


def prepare(model: onnx.ModelProto, where: str) -> PreparedGraph:
    """Check, upgrade, infer and fold; native onnx code only sees a graph check_model accepted."""
    check_model(model, where)
    labels = drop_zipmaps(model, where)
    _collapse_identities(model.graph)
    _name_unknown_dims(model.graph)
    upgraded, types = _native_steps(model, where)
    prepared = _folded(upgraded, types, where)
    for _ in range(MAX_INFERENCE_ROUNDS):
        if not materialise_shape_values(prepared):
            break
        upgraded, types = _native_steps(prepared.model, where)
        prepared = _folded(upgraded, types, where)
    prepared.declared_labels = labels
    return prepared


def _folded(model: onnx.ModelProto, types: dict[str, onnx.TypeProto], where: str) -> PreparedGraph:
    prepared = PreparedGraph(model, list(model.graph.node), types=types)
    for init in model.graph.initializer:
        prepared.constants[init.name] = numpy_helper.to_array(init)
    _fold_constants(prepared, where)
    return prepared


def _name_unknown_dims(graph: onnx.GraphProto) -> None:
    """Declared sizes of -1 or 0 become symbols: paddle2onnx and older tools write "unknown" so.

    A -1 is no size at all, and no exporter means a real zero-sized axis on a model's interface,
    so both stand for a size known only at run time: the leading one is the batch, the others are
    named after their tensor ("x_dim3").
    """
    for value in (*graph.input, *graph.output, *graph.value_info):
        if not value.type.HasField("tensor_type") or not value.type.tensor_type.HasField("shape"):
            continue
        for axis, dim in enumerate(value.type.tensor_type.shape.dim):
            if dim.HasField("dim_value") and dim.dim_value <= 0:
                dim.dim_param = "batch" if axis == 0 else f"{value.name}_dim{axis}"


def default_opset(model: onnx.ModelProto) -> int:
    for opset in model.opset_import:
        if opset.domain in ("", "ai.onnx"):
            return int(opset.version)
    return 1


def _native_steps(model: onnx.ModelProto, where: str) -> tuple[onnx.ModelProto, dict[str, onnx.TypeProto]]:
    """The opset-21 model and inferred tensor types, computed by onnx's C++ in a child process."""
    version = default_opset(model)  # within MIN_OPSET..TARGET_OPSET: check_model saw to that

    def step() -> list[bytes]:
        upgraded = model if version == TARGET_OPSET else _upgrade(model, version, where)
        types = onnx.GraphProto()
        inferred = _inferred(upgraded).graph
        types.value_info.extend([*inferred.input, *inferred.value_info, *inferred.output])
        return [types.SerializeToString()] + ([] if upgraded is model else [upgraded.SerializeToString()])

    try:
        parts = run_isolated(step, "version converter or shape inference", where)
    except NativeStepError as exc:  # the converter raises bare RuntimeErrors from C++
        raise OnnxImportError(
            f"{where}: cannot upgrade opset {version} to {TARGET_OPSET} ({exc}); "
            f"re-export the model with opset_version={TARGET_OPSET}"
        ) from None
    upgraded = parse_model(parts[1]) if len(parts) > 1 else model
    types = onnx.GraphProto.FromString(parts[0])
    return upgraded, {value.name: value.type for value in types.value_info}


def _upgrade(model: onnx.ModelProto, version: int, where: str) -> onnx.ModelProto:
    inferred = _inferred(model)  # declared shapes that contradict the nodes: convert without types
    parked = _park_last_axis_softmax(inferred) if version < _SOFTMAX_CHANGE else []
    try:
        upgraded = version_converter.convert_version(inferred, TARGET_OPSET)
    except shape_inference.InferenceError as exc:  # the converter infers shapes strictly
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else "no detail"
        raise OnnxImportError(
            f"{where}: the shapes the file declares contradict its nodes (onnx's shape inference: "
            f"{first}); re-export the model"
        ) from None
    if parked:
        _unpark(upgraded)
    return upgraded


def _park_last_axis_softmax(model: onnx.ModelProto) -> list[onnx.NodeProto]:
    """Hide softmax-like nodes over the last axis from the converter, as axis=-1 nodes.

    Before opset 13 these ops flattened their input to 2-D at `axis`. Over the last axis that is
    the same as the opset-13 op with axis=-1, but the converter, not always knowing the rank,
    rewrites every such node into Shape -> Flatten -> Softmax -> Reshape, which hides the final
    Softmax that makes a classifier. A node in a private domain passes through untouched.
    """
    graph = model.graph
    types = {value.name: value.type for value in (*graph.input, *graph.value_info, *graph.output)}
    parked: list[onnx.NodeProto] = []
    for node in model.graph.node:
        if node.op_type not in _SOFTMAX_LIKE or node.domain not in ("", "ai.onnx"):
            continue
        # Input and output share their shape; either may be the one inference or the file knows.
        known = [types[n] for n in (node.input[0], node.output[0]) if n in types]
        ranks = [len(t.tensor_type.shape.dim) for t in known if t.tensor_type.HasField("shape")]
        if not ranks or not ranks[0]:  # a scalar has no last axis (axis % 0 divided by zero)
            continue
        rank = ranks[0]
        axis = next((int(a.i) for a in node.attribute if a.name == "axis"), 1)
        if axis % rank != rank - 1:
            continue
        node.domain = _PARKING_DOMAIN
        del node.attribute[:]
        node.attribute.append(onnx.helper.make_attribute("axis", -1))
        parked.append(node)
    if parked:
        model.opset_import.append(onnx.helper.make_opsetid(_PARKING_DOMAIN, 1))
    return parked


def _unpark(model: onnx.ModelProto) -> None:
    for node in model.graph.node:
        if node.domain == _PARKING_DOMAIN:
            node.domain = ""
    kept = [opset for opset in model.opset_import if opset.domain != _PARKING_DOMAIN]
    del model.opset_import[:]
    model.opset_import.extend(kept)


def _inferred(model: onnx.ModelProto) -> onnx.ModelProto:
    try:
        return shape_inference.infer_shapes(model, strict_mode=False, data_prop=True)
    except Exception:  # unknown custom ops or inconsistent hints: map without inferred types
        return model


def _collapse_identities(graph: onnx.GraphProto) -> None:
    """Drop Identity nodes, pointing consumers at the source; graph output names win.

    Done first, so that the converter and shape inference see a graph output's declared shape
    on the node that really computes it (exporters rename outputs through an Identity). Renames
    are recorded in one table and applied in a single pass, so a chain of n Identity nodes takes
    time linear in n.
    """
    outputs = {value.name for value in graph.output}
    fixed = {value.name for value in graph.input} | {init.name for init in graph.initializer}
    renamed: dict[str, str] = {}

    def final(name: str) -> str:
        path = []
        while name in renamed:
            path.append(name)
            name = renamed[name]
        for step in path:  # path compression keeps later look-ups short
            renamed[step] = name
        return name

    kept: list[onnx.NodeProto] = []
    for node in graph.node:
        if node.op_type != "Identity" or node.domain not in ("", "ai.onnx") or len(node.input) != 1:
            kept.append(node)
            continue
        source, alias = final(node.input[0]), node.output[0]
        if alias not in outputs:
            renamed[alias] = source
        elif source in outputs or source in fixed:
            kept.append(node)  # both names must survive; an onnx_node Identity keeps them
        else:
            renamed[source] = alias
    for node in kept:
        node.input[:] = [final(name) for name in node.input]
        node.output[:] = [final(name) for name in node.output]
    del graph.node[:]
    graph.node.extend(kept)


def _fold_constants(prepared: PreparedGraph, where: str) -> None:
    outputs = set(prepared.output_names())
    remaining: list[onnx.NodeProto] = []
    for node in prepared.nodes:
        values = None if outputs.intersection(node.output) else _evaluate(prepared, node, where)
        if values is None:
            remaining.append(node)
            continue
        for name, value in zip(node.output, values, strict=False):
            if name:
                prepared.constants[name] = value
                prepared.folded_by[name] = node
    prepared.nodes = remaining


def _evaluate(prepared: PreparedGraph, node: onnx.NodeProto, where: str) -> list[np.ndarray] | None:
    """The node's outputs when they follow from known values alone, else None."""
    if node.domain not in ("", "ai.onnx") or node.op_type in _RANDOM_OPS:
        return None
    if any(attr.type in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS) for attr in node.attribute):
        return None
    if node.op_type == "Shape":
        shape = _shape_value(prepared, node)
        return None if shape is None else [shape]
    inputs = {name: prepared.constants.get(name) for name in node.input if name}
    known = {name: value for name, value in inputs.items() if value is not None}
    if len(known) != len(inputs):
        return None
    if node.op_type not in _VALUE_MOVING_OPS and any(has_sentinel(v) for v in known.values()):
        return None
    if not _within_budget(prepared, node, where):
        return None
    try:
        results = ReferenceEvaluator(node, opsets={"": TARGET_OPSET}).run(None, known)
    except Exception:  # an op the reference evaluator lacks: keep the node as it is
        return None
    return [np.asarray(value) for value in results]


def _within_budget(prepared: PreparedGraph, node: onnx.NodeProto, where: str) -> bool:
    """Whether the node's outputs are known to fit FOLD_BUDGET; refuses the model beyond it."""
    attrs = {attr.name: onnx.helper.get_attribute_value(attr) for attr in node.attribute}
    values = [prepared.constants.get(name) if name else None for name in node.input]
    try:
        size = predicted_elements(node.op_type, values, attrs)
        if size is None:
            size = _inferred_elements(prepared, node)
        if size is not None and size > FOLD_BUDGET:
            raise FoldTooBigError(size)
    except FoldTooBigError as big:
        label = f'node "{node.name}"' if node.name else "a node"
        raise OnnxImportError(
            f"{where}: {label} ({node.op_type}) computes a constant of {big.elements:,} elements; "
            f"mlspec folds constants of at most {FOLD_BUDGET:,} elements"
        ) from None
    return size is not None and affordable(node.op_type, values)


def _inferred_elements(prepared: PreparedGraph, node: onnx.NodeProto) -> int | None:
    """The largest output's element count from shape inference, None when any dim is unknown."""
    largest = 0
    for name in node.output:
        dims = prepared.dims(name) if name else ()
        if dims is None or not all(isinstance(dim, int) and dim >= 0 for dim in dims):
            return None
        count = 1
        for dim in dims:
            count *= int(dim)  # type: ignore[arg-type]
        largest = max(largest, count)
    return largest


def _shape_value(prepared: PreparedGraph, node: onnx.NodeProto) -> np.ndarray | None:
    dims = prepared.dims(node.input[0])
    if dims is None:
        return None
    values: list[int] = []
    for axis, dim in enumerate(dims):
        if isinstance(dim, int):
            values.append(dim)
        elif axis == 0:
            values.append(BATCH_SENTINEL if prepared.is_batch(dim) else LEAD_SENTINEL)
        else:
            return None
    attrs = {attr.name: onnx.helper.get_attribute_value(attr) for attr in node.attribute}
    start = int(attrs.get("start", 0))
    end = attrs.get("end")
    return np.array(values[start : None if end is None else int(end)], dtype=np.int64)
