"""What an op mapper sees: one ONNX node, the values and shapes around it, and layer naming.

Mappers are small functions, one per op family, that return typed layers or None. None means
"this node does not fit a typed kind" (a weight that is computed at run time, an attribute
mlspec has no field for), and the node is kept as a frozen `onnx_node` layer instead. Keeping
that decision in the mapper, next to the op's semantics, is what lets unknown corners of an op
degrade to a working frozen node rather than to a wrong typed layer.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx

from mlspec._proto import layers_pb2
from mlspec.convert.importers.onnx_graph import Dim, PreparedGraph
from mlspec.convert.importers.onnx_shape_values import has_sentinel

_UNSAFE_NAME_CHARS = re.compile(r"[^A-Za-z0-9_\-]+")


class NameAllocator:
    """Unique layer names derived from ONNX node names (exporters' "/layer1/conv/Conv" style).

    Characters other than letters, digits, "_" and "-" become "_": weight names are
    "{layer}.{field}" and the converter derives node names with "/", so neither may appear.
    """

    def __init__(self) -> None:
        self._taken: set[str] = set()

    def take(self, wanted: str, fallback: str) -> str:
        base = _UNSAFE_NAME_CHARS.sub("_", wanted).strip("_") or fallback
        name = base
        counter = 1
        while name in self._taken:
            name = f"{base}_{counter}"
            counter += 1
        self._taken.add(name)
        return name


@dataclass
class MappingSession:
    """State shared by all mappers while one graph is mapped."""

    graph: PreparedGraph
    names: NameAllocator = field(default_factory=NameAllocator)
    absorbed: set[int] = field(default_factory=set)
    consumers: dict[str, list[onnx.NodeProto]] = field(default_factory=dict)
    producers: dict[str, onnx.NodeProto] = field(default_factory=dict)
    # Node id -> place in the graph, to tell nodes not mapped yet from those already mapped.
    position: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        table: dict[str, list[onnx.NodeProto]] = defaultdict(list)
        for index, node in enumerate(self.graph.nodes):
            self.position[id(node)] = index
            self.producers.update((name, node) for name in node.output if name)
            for name in node.input:
                if name:
                    table[name].append(node)
        self.consumers = dict(table)

    def is_absorbed(self, node: onnx.NodeProto) -> bool:
        return id(node) in self.absorbed


@dataclass
class NodeContext:
    node: onnx.NodeProto
    session: MappingSession
    attrs: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.attrs = {attr.name: onnx.helper.get_attribute_value(attr) for attr in self.node.attribute}

    @property
    def graph(self) -> PreparedGraph:
        return self.session.graph

    def attr(self, name: str, default: Any) -> Any:
        value = self.attrs.get(name, default)
        return value.decode() if isinstance(value, bytes) else value

    def input(self, index: int) -> str:
        """The input's tensor name, or "" when the optional input is omitted."""
        return self.node.input[index] if index < len(self.node.input) else ""

    def value(self, index: int) -> np.ndarray | None:
        """The input's folded value (which may hold the batch sentinel), or None."""
        name = self.input(index)
        return self.graph.constants.get(name) if name else None

    def weight(self, index: int) -> npt.NDArray[np.float32] | None:
        """The input as float32 weights when it is a fixed float constant, else None."""
        value = self.value(index)
        if value is None or value.dtype.kind != "f":
            return None
        return value.astype(np.float32)

    def ints(self, index: int) -> list[int] | None:
        value = self.value(index)
        if value is None or value.dtype.kind not in "iu":
            return None
        return [int(v) for v in value.reshape(-1)]

    def scalar(self, index: int) -> float | None:
        """A constant operand that is one float value (any shape holding one element)."""
        value = self.value(index)
        if value is None or value.size != 1 or value.dtype.kind != "f" or has_sentinel(value):
            return None
        return float(value.reshape(-1)[0])

    def is_activation(self, index: int) -> bool:
        name = self.input(index)
        return bool(name) and name not in self.graph.constants

    def dims(self, index: int) -> tuple[Dim, ...] | None:
        name = self.input(index)
        return self.graph.dims(name) if name else None

    def rank(self, index: int) -> int | None:
        dims = self.dims(index)
        return None if dims is None else len(dims)

    def output_used(self, index: int) -> bool:
        if index >= len(self.node.output) or not self.node.output[index]:
            return False
        name = self.node.output[index]
        return name in self.session.consumers or name in self.graph.output_names()

    def sole_consumer(self, tensor: str) -> onnx.NodeProto | None:
        """The one node reading `tensor`, provided nothing else (a graph output) needs it."""
        readers = self.session.consumers.get(tensor, [])
        if len(readers) != 1 or tensor in self.graph.output_names():
            return None
        return readers[0]

    def follow(self, tensor: str, op_type: str) -> onnx.NodeProto | None:
        """The sole consumer of `tensor` when it is a default-domain `op_type` node, else None."""
        node = self.sole_consumer(tensor)
        return (
            node if node is not None and node.op_type == op_type and node.domain in ("", "ai.onnx") else None
        )

    def producer(self, tensor: str) -> onnx.NodeProto | None:
        return self.session.producers.get(tensor)

    def comes_later(self, node: onnx.NodeProto) -> bool:
        """Whether `node` is mapped after this one, so it may still be absorbed."""
        return self.session.position[id(node)] > self.session.position[id(self.node)]

    def absorb(self, node: onnx.NodeProto) -> None:
        """Mark a later node as folded into the layer being built, so it is not mapped again."""
        self.session.absorbed.add(id(node))

    def layer(
        self, inputs: list[str] | None = None, outputs: list[str] | None = None, *, suffix: str = ""
    ) -> layers_pb2.Layer:
        """A new layer named after the node, reading its first input and writing its first output.

        `suffix` names the extra layers of a node that maps to several (Gemm with transA).
        """
        fallback = self.node.op_type.lower() or "node"
        wanted = f"{self.node.name or fallback}_{suffix}" if suffix else self.node.name
        name = self.session.names.take(wanted, fallback)
        return layers_pb2.Layer(
            name=name,
            inputs=[self.input(0)] if inputs is None else inputs,
            outputs=[self.node.output[0]] if outputs is None else outputs,
        )


Mapper = Callable[[NodeContext], list[layers_pb2.Layer] | None]
