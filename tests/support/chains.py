"""Long layer chains for the scaling tests and tools/bench/scaling.py: size is the point, not the maths."""

from __future__ import annotations

from mlspec._proto import layers_pb2, model_pb2, tensor_pb2
from mlspec.builder import SgdParams


def updatable_chain(layers: int, kind: str = "dense") -> model_pb2.Model:
    """x [2] -> `layers` layers in a chain -> MSE on the last: updatable 2x2 dense layers, or for
    kind "relu" one updatable dense layer followed by ReLU layers."""
    model = model_pb2.Model(spec_version=1, is_updatable=True)
    feature = model.description.inputs.add(name="x")
    feature.type.tensor.dtype = tensor_pb2.FLOAT32
    feature.type.tensor.shape.add(symbol="batch")
    feature.type.tensor.shape.add(size=2)
    for index in range(layers):
        source = "x" if index == 0 else f"l{index - 1}"
        layer = model.network.layers.add(name=f"l{index}", inputs=[source], outputs=[f"l{index}"])
        if kind == "relu" and index > 0:
            layer.activation.type = layers_pb2.ActivationLayer.RELU
            continue
        dense = layer.inner_product
        dense.input_channels = dense.output_channels = 2
        dense.weights.dtype = tensor_pb2.FLOAT32
        dense.weights.shape.extend([2, 2])
        dense.weights.raw_data = bytes(16)
        layer.is_updatable = dense.weights.is_updatable = True
    model.description.outputs.add(name=f"l{layers - 1}").type.CopyFrom(feature.type)
    model.description.training_inputs.add(name="x").type.CopyFrom(feature.type)
    model.description.training_inputs.add(name="y").type.CopyFrom(feature.type)
    loss = model.update_parameters.loss_layers.add(name="loss", input=f"l{layers - 1}", target="y")
    loss.mean_squared_error.SetInParent()
    model.update_parameters.optimizer.CopyFrom(SgdParams(lr=0.1, batch=2).to_proto())
    model.update_parameters.epochs.default_value = 1
    model.update_parameters.epochs.set.values.append(1)
    return model
