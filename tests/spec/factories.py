"""Small specs for tests, built from raw protobuf so that the tests do not depend on the builder."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from mlspec._proto import layers_pb2, model_pb2, tensor_pb2
from mlspec.spec.hyper import double_parameter, int_parameter
from mlspec.spec.tensor_info import set_dims
from mlspec.spec.weights import make_tensor

RNG = np.random.default_rng(0)


def tensor_feature(
    name: str, dims: Sequence[int | str], dtype: int = tensor_pb2.FLOAT32
) -> tensor_pb2.FeatureDescription:
    feature = tensor_pb2.FeatureDescription(name=name)
    feature.type.tensor.dtype = dtype  # type: ignore[assignment]
    set_dims(feature.type.tensor, dims)
    return feature


def int64_feature(name: str) -> tensor_pb2.FeatureDescription:
    feature = tensor_pb2.FeatureDescription(name=name)
    feature.type.int64_type.SetInParent()
    return feature


def string_feature(name: str) -> tensor_pb2.FeatureDescription:
    feature = tensor_pb2.FeatureDescription(name=name)
    feature.type.string_type.SetInParent()
    return feature


def weights(*shape: int, updatable: bool = False) -> tensor_pb2.Tensor:
    return make_tensor(RNG.standard_normal(shape).astype(np.float32), is_updatable=updatable)


def dense(
    name: str, source: str, output: str, n_in: int, n_out: int, *, updatable: bool = False
) -> layers_pb2.Layer:
    layer = layers_pb2.Layer(name=name, inputs=[source], outputs=[output], is_updatable=updatable)
    spec = layer.inner_product
    spec.input_channels, spec.output_channels, spec.has_bias = n_in, n_out, True
    spec.weights.CopyFrom(weights(n_out, n_in, updatable=updatable))
    spec.bias.CopyFrom(weights(n_out, updatable=updatable))
    return layer


def activation(name: str, source: str, output: str, kind: str = "RELU") -> layers_pb2.Layer:
    layer = layers_pb2.Layer(name=name, inputs=[source], outputs=[output])
    layer.activation.CopyFrom(layers_pb2.ActivationLayer(type=kind))
    return layer


def softmax(name: str, source: str, output: str) -> layers_pb2.Layer:
    layer = layers_pb2.Layer(name=name, inputs=[source], outputs=[output])
    layer.softmax.SetInParent()
    return layer


def simple_layer(kind: str, name: str, inputs: Sequence[str], output: str) -> layers_pb2.Layer:
    """A layer of a kind whose message needs no fields (add, multiply, concat, dropout...)."""
    layer = layers_pb2.Layer(name=name, inputs=list(inputs), outputs=[output])
    getattr(layer, kind).SetInParent()
    return layer


def sgd(model: model_pb2.Model, *, lr: float = 0.01, batch: int = 8) -> None:
    optimizer = model.update_parameters.optimizer.sgd
    optimizer.learning_rate.CopyFrom(double_parameter(lr, (0.0, 1.0)))
    optimizer.mini_batch_size.CopyFrom(int_parameter(batch, [batch, 2 * batch]))


def classifier(*, updatable: bool = True) -> model_pb2.Model:
    """x [batch, 4] -> fc1 (updatable) -> relu -> fc2 (updatable) -> softmax "probs"; 3 labels."""
    model = model_pb2.Model(spec_version=1)
    model.description.inputs.append(tensor_feature("x", ["batch", 4]))
    model.description.outputs.append(tensor_feature("probs", ["batch", 3]))
    model.description.outputs.append(string_feature("label"))
    model.network.layers.extend(
        [
            dense("fc1", "x", "h1", 4, 8, updatable=updatable),
            activation("relu1", "h1", "a1"),
            dense("fc2", "a1", "logits", 8, 3, updatable=updatable),
            softmax("softmax", "logits", "probs"),
        ]
    )
    model.classifier.string_labels.values.extend(["cat", "dog", "bird"])
    model.classifier.predicted_feature_name = "label"
    model.classifier.predicted_probabilities_name = "probs"
    if updatable:
        model.is_updatable = True
        model.description.training_inputs.append(string_feature("true_label"))
        loss = model.update_parameters.loss_layers.add(name="ce", input="probs", target="true_label")
        loss.categorical_cross_entropy.SetInParent()
        sgd(model)
        model.update_parameters.epochs.CopyFrom(int_parameter(5, (1, 100)))
    return model


def regressor() -> model_pb2.Model:
    """x [batch, 4] -> fc (updatable) -> "y" [batch, 2], MSE against training input "y_true"."""
    model = model_pb2.Model(spec_version=1, is_updatable=True)
    model.description.inputs.append(tensor_feature("x", ["batch", 4]))
    model.description.outputs.append(tensor_feature("y", ["batch", 2]))
    model.description.training_inputs.append(tensor_feature("y_true", ["batch", 2]))
    model.network.layers.append(dense("fc", "x", "y", 4, 2, updatable=True))
    loss = model.update_parameters.loss_layers.add(name="mse", input="y", target="y_true")
    loss.mean_squared_error.SetInParent()
    sgd(model)
    model.update_parameters.epochs.CopyFrom(int_parameter(3, [1, 3, 10]))
    return model
