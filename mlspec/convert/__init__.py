"""The converter: specs to ONNX graphs; the training backends (mlspec/backends/) build on it."""

from mlspec.convert.backprop import backprop_layers
from mlspec.convert.graph import GraphBuild, build_graph, to_onnx

__all__ = ["GraphBuild", "backprop_layers", "build_graph", "to_onnx"]
