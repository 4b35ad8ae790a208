"""The converter: specs to ONNX inference models and ONNX Runtime training artifacts."""

from mlspec.convert.artifacts import to_training_artifacts
from mlspec.convert.backprop import backprop_layers
from mlspec.convert.graph import GraphBuild, build_graph, to_onnx

__all__ = ["GraphBuild", "backprop_layers", "build_graph", "to_onnx", "to_training_artifacts"]
