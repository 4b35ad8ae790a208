"""The state every emitter appends to while a spec is turned into one ONNX graph.

Emitters only see this object, so naming rules (initializers "{layer}.{field}", nodes and
intermediate tensors "{layer}/{step}") and the training-graph bookkeeping the artifacts step
reads are enforced in one place rather than in every layer family.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import numpy_helper

from mlspec._proto import layers_pb2, model_pb2, tensor_pb2
from mlspec.convert.forms import PLAIN, GraphForms
from mlspec.spec.errors import MlspecError, layer_ref
from mlspec.spec.kinds import kind_message
from mlspec.spec.shapes import Dim, infer_shapes
from mlspec.spec.tensor_info import UNKNOWN, TensorInfo
from mlspec.spec.weights import checked_raw_data, to_float32, to_numpy


def where(layer: layers_pb2.Layer) -> str:
    return layer_ref(layer.name)


def _tensor(layer: layers_pb2.Layer, field_name: str) -> tensor_pb2.Tensor:
    message = kind_message(layer)
    if not message.HasField(field_name):
        raise MlspecError(f"{where(layer)}.{field_name}: missing; the layer needs this tensor")
    return getattr(message, field_name)  # type: ignore[no-any-return]


@dataclass
class EmitContext:
    model: model_pb2.Model
    training: bool
    # Layers between an updatable tensor and a loss; only these need differentiable ops.
    backprop: frozenset[str] = frozenset()
    # The training backend's spellings for backprop-path layers (see convert/forms.py).
    forms: GraphForms = PLAIN
    # The graph being built; initializers are created inside it (see add_initializer).
    graph: onnx.GraphProto = field(default_factory=onnx.GraphProto)
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    # Name -> the initializer inside graph.initializer that this graph uses.
    initializers: dict[str, onnx.TensorProto] = field(default_factory=dict)
    # Initializers already in graph, left by an earlier build from the same spec (see to_onnx):
    # a weight found here is taken as it is, anything else is overwritten in place.
    reusable: dict[str, onnx.TensorProto] = field(default_factory=dict)
    frozen_stateful: list[str] = field(default_factory=list)
    running_stat_outputs: dict[str, str] = field(default_factory=dict)
    logits_of: dict[str, str] = field(default_factory=dict)
    dropout_mode_inputs: list[str] = field(default_factory=list)
    # ReLU output -> its layer, emitted after the max pool reading it (see activation.py).
    activations_after_pool: dict[str, layers_pb2.Layer] = field(default_factory=dict)
    _node_names: set[str] = field(default_factory=set)

    def readers(self, tensor: str) -> list[layers_pb2.Layer]:
        """The layers reading `tensor`, from an index built once: a scan of every layer per
        ReLU made converting a 10k-layer chain take 114 s."""
        return self._readers.get(tensor, [])

    @cached_property
    def _readers(self) -> dict[str, list[layers_pb2.Layer]]:
        index: dict[str, list[layers_pb2.Layer]] = {}
        for layer in self.model.network.layers:
            for name in dict.fromkeys(layer.inputs):
                index.setdefault(name, []).append(layer)
        return index

    def needs_gradient(self, layer: layers_pb2.Layer) -> bool:
        """Whether this layer lies on a training graph's backprop path (where `forms` apply)."""
        return self.training and layer.name in self.backprop

    def weight(self, layer: layers_pb2.Layer, field_name: str) -> str:
        """Register the layer's tensor as a float32 initializer named "{layer}.{field}"."""
        name = f"{layer.name}.{field_name}"
        if name in self.initializers:
            return name
        if name in self.reusable:
            # Initializers named "{layer}.{field}" after a field of the layer's kind come only from
            # weight(), always that spec tensor as float32: the earlier build's one holds exactly
            # what would be made here, so it is kept without touching its bytes.
            self.initializers[name] = self.reusable[name]
            return name
        tensor, where_ = _tensor(layer, field_name), f"{where(layer)}.{field_name}"
        if tensor.dtype != tensor_pb2.FLOAT32:
            return self.add_initializer(name, to_float32(tensor, where_))
        # Float32 spec storage is already ONNX's raw little-endian layout, so the bytes go straight
        # into the initializer: numpy_helper.from_array would copy the weights twice more (tobytes,
        # then into the message), and above glibc's mmap threshold every copy is fresh page faults.
        data = checked_raw_data(tensor, where_)
        initializer = self._new_initializer(name)
        initializer.data_type = onnx.TensorProto.FLOAT
        initializer.dims.extend(tensor.shape)
        initializer.raw_data = data
        return name

    def weight_array(self, layer: layers_pb2.Layer, field_name: str) -> npt.NDArray[np.float64]:
        """A tensor's values for folding into constants (frozen layers only), in float64."""
        return to_numpy(_tensor(layer, field_name), f"{where(layer)}.{field_name}").astype(np.float64)

    def constant(
        self, layer: layers_pb2.Layer, suffix: str, value: npt.ArrayLike, dtype: Any = np.float32
    ) -> str:
        """A graph constant the spec does not hold as a weight, named "{layer}/{suffix}"."""
        return self.add_initializer(f"{layer.name}/{suffix}", np.asarray(value, dtype=dtype))

    def add_initializer(self, name: str, array: npt.NDArray[Any]) -> str:
        self._new_initializer(name).CopyFrom(numpy_helper.from_array(array, name))
        return name

    def _new_initializer(self, name: str) -> onnx.TensorProto:
        """An empty initializer inside the graph, or the existing one of that name to overwrite.

        Created in place because appending a finished TensorProto to graph.initializer (or
        passing it to onnx.helper.make_graph) copies it, weights included.
        """
        existing = self.initializers.get(name, self.reusable.get(name))
        initializer = existing if existing is not None else self.graph.initializer.add()
        self.initializers[name] = initializer
        initializer.Clear()
        initializer.name = name
        return initializer

    def node(
        self,
        layer: layers_pb2.Layer,
        op_type: str,
        inputs: list[str],
        outputs: list[str],
        *,
        step: str = "",
        domain: str = "",
        **attributes: Any,
    ) -> onnx.NodeProto:
        """Append a node named after its layer, so an ORT error message points at the layer."""
        name = f"{layer.name}/{step}" if step else layer.name
        if name in self._node_names:
            raise AssertionError(f"two nodes named {name!r}: give each step of an emitter its own name")
        self._node_names.add(name)
        node = onnx.helper.make_node(op_type, inputs, outputs, name=name, domain=domain, **attributes)
        self.nodes.append(node)
        return node

    @staticmethod
    def tensor(layer: layers_pb2.Layer, step: str) -> str:
        """Name of an intermediate tensor inside a layer's subgraph."""
        return f"{layer.name}/{step}"

    @cached_property
    def _shapes(self) -> dict[str, TensorInfo]:
        return infer_shapes(self.model)

    def tensor_info(self, tensor: str) -> TensorInfo:
        """What mlspec's shape inference knows of a spec tensor (dtype and dims)."""
        return self._shapes.get(tensor, UNKNOWN)

    def dims(self, tensor: str) -> tuple[Dim, ...] | None:
        """The spec-level dims of a tensor (ints, symbols or None), or None when the rank is unknown."""
        return self.tensor_info(tensor).dims


Emitter = Callable[[EmitContext, layers_pb2.Layer], None]
"""A kind's ONNX nodes, appended to the context. Each family module lists its own in an
`EMITTERS` table that mlspec.convert.emitters merges."""
