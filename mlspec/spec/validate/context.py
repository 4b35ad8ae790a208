"""What every rule module needs, computed once per validation run."""

from __future__ import annotations

from dataclasses import dataclass

from mlspec._proto import layers_pb2, model_pb2
from mlspec.spec.errors import layer_ref
from mlspec.spec.shapes import ShapeReport, TensorInfo, check_shapes, feature_info
from mlspec.spec.tensor_info import UNKNOWN
from mlspec.spec.text import shown
from mlspec.spec.validate.onnx_shapes import undeclared_outputs


def layer_where(layer: layers_pb2.Layer, index: int) -> str:
    """`layers["fc1"]`, or `layers[3]` for a layer without a name."""
    return layer_ref(layer.name, index)


def feature_where(section: str, name: str, index: int) -> str:
    """`description.inputs["x"]`, or `description.inputs[0]` for a feature without a name."""
    return f'description.{section}["{shown(name)}"]' if name else f"description.{section}[{index}]"


@dataclass
class Context:
    model: model_pb2.Model
    shapes: ShapeReport
    # Tensor name -> index of the first layer that outputs it.
    producer_index: dict[str, int]
    input_names: set[str]
    training_input_names: set[str]

    @classmethod
    def of(cls, model: model_pb2.Model) -> Context:
        inputs = {f.name for f in model.description.inputs}
        # A layer output that shadows a model input is reported; readers still see the input.
        producer_index: dict[str, int] = {}
        for index, layer in enumerate(model.network.layers):
            for name in layer.outputs:
                if name not in inputs:
                    producer_index.setdefault(name, index)
        return cls(
            model=model,
            shapes=check_shapes(model, undeclared_outputs),
            producer_index=producer_index,
            input_names=inputs,
            training_input_names={f.name for f in model.description.training_inputs},
        )

    def producer(self, tensor: str) -> layers_pb2.Layer | None:
        index = self.producer_index.get(tensor)
        return None if index is None else self.model.network.layers[index]

    def info(self, tensor: str) -> TensorInfo:
        return self.shapes.tensors.get(tensor, UNKNOWN)

    def training_input_info(self, name: str) -> TensorInfo | None:
        for feature in self.model.description.training_inputs:
            if feature.name == name:
                return feature_info(feature)
        return None
