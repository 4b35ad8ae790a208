"""Small updatable specs written directly in protobuf, for the converter and backend tests.

Kept independent of the builder so that a change there cannot move the yardstick these tests
measure the artifacts against.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from mlspec._proto import layers_pb2, model_pb2, tensor_pb2
from mlspec.spec.hyper import double_parameter, int_parameter
from mlspec.spec.shapes import infer_shapes
from mlspec.spec.tensor_info import set_dims
from mlspec.spec.weights import make_tensor

Dims = Sequence[int | str]


class SpecMaker:
    """Append layers, losses and an optimizer; `spec()` fills outputs and returns the Model."""

    def __init__(self, name: str = "test", seed: int = 0) -> None:
        self.model = model_pb2.Model(spec_version=1, is_updatable=True)
        self.model.metadata.name = name
        self.rng = np.random.default_rng(seed)
        self.outputs: list[str] = []

    def _weights(self, shape: tuple[int, ...], scale: float, updatable: bool) -> tensor_pb2.Tensor:
        values = self.rng.normal(0.0, scale, size=shape).astype(np.float32)
        return make_tensor(values, is_updatable=updatable)

    def input(self, name: str, dims: Dims, dtype: int = tensor_pb2.FLOAT32) -> None:
        feature = self.model.description.inputs.add(name=name)
        feature.type.tensor.dtype = dtype  # type: ignore[assignment]
        set_dims(feature.type.tensor, ["batch", *dims])

    def target(self, name: str, dims: Dims | None = None, kind: str = "float") -> None:
        feature = self.model.description.training_inputs.add(name=name)
        if kind == "string":
            feature.type.string_type.SetInParent()
        elif kind == "int64" and dims is None:
            feature.type.int64_type.SetInParent()
        else:
            feature.type.tensor.dtype = tensor_pb2.INT64 if kind == "int64" else tensor_pb2.FLOAT32
            set_dims(feature.type.tensor, ["batch", *(dims or [])])

    def classifier(self, labels: Sequence[str] | Sequence[int], probabilities: str) -> None:
        info = self.model.classifier
        if isinstance(labels[0], str):
            info.string_labels.values.extend([str(v) for v in labels])
        else:
            info.int64_labels.values.extend([int(v) for v in labels])
        info.predicted_feature_name = "label"
        info.predicted_probabilities_name = probabilities

    def _layer(
        self, name: str, inputs: Sequence[str], output: str, updatable: bool = False
    ) -> layers_pb2.Layer:
        layer = self.model.network.layers.add(name=name, is_updatable=updatable)
        layer.inputs.extend(inputs)
        layer.outputs.append(output)
        return layer

    def dense(self, name: str, x: str, y: str, sizes: tuple[int, int], *, updatable: bool = True) -> None:
        n_in, n_out = sizes
        message = self._layer(name, [x], y, updatable).inner_product
        message.input_channels, message.output_channels, message.has_bias = n_in, n_out, True
        message.weights.CopyFrom(self._weights((n_out, n_in), 1.0 / np.sqrt(n_in), updatable))
        message.bias.CopyFrom(self._weights((n_out,), 0.1, updatable))

    def conv(
        self,
        name: str,
        x: str,
        y: str,
        channels: tuple[int, int],
        *,
        kernel: Sequence[int],
        padding: str = "valid",
    ) -> None:
        c_in, c_out = channels
        message = self._layer(name, [x], y, True).convolution
        message.input_channels, message.output_channels, message.has_bias = c_in, c_out, True
        message.kernel_shape.extend(kernel)
        if padding == "same":
            message.padding.same.SetInParent()
        else:
            message.padding.valid.SetInParent()
        fan_in = c_in * int(np.prod(kernel))
        message.weights.CopyFrom(self._weights((c_out, c_in, *kernel), 1.0 / np.sqrt(fan_in), True))
        message.bias.CopyFrom(self._weights((c_out,), 0.1, True))

    def batch_norm(self, name: str, x: str, y: str, channels: int, momentum: float = 0.9) -> None:
        message = self._layer(name, [x], y, True).batch_norm
        message.channels, message.epsilon, message.momentum = channels, 1e-5, momentum
        message.gamma.CopyFrom(
            make_tensor(1.0 + 0.1 * self.rng.normal(size=channels).astype(np.float32), is_updatable=True)
        )
        message.beta.CopyFrom(self._weights((channels,), 0.1, True))
        message.running_mean.CopyFrom(make_tensor(np.zeros(channels, np.float32)))
        message.running_variance.CopyFrom(make_tensor(np.ones(channels, np.float32)))

    def layer_norm(self, name: str, x: str, y: str, size: int) -> None:
        message = self._layer(name, [x], y, True).layer_norm
        message.normalized_shape.append(size)
        message.epsilon = 1e-5
        message.gamma.CopyFrom(
            make_tensor(1.0 + 0.1 * self.rng.normal(size=size).astype(np.float32), is_updatable=True)
        )
        message.beta.CopyFrom(self._weights((size,), 0.1, True))

    def embedding(self, name: str, x: str, y: str, vocab: int, dim: int) -> None:
        message = self._layer(name, [x], y, True).embedding
        message.vocab_size, message.embedding_dim = vocab, dim
        message.weights.CopyFrom(self._weights((vocab, dim), 0.5, True))

    def activation(self, name: str, x: str, y: str, kind: int = layers_pb2.ActivationLayer.RELU) -> None:
        self._layer(name, [x], y).activation.type = kind  # type: ignore[assignment]

    def softmax(self, name: str, x: str, y: str) -> None:
        self._layer(name, [x], y).softmax.axis = -1

    def max_pool(self, name: str, x: str, y: str, size: int) -> None:
        message = self._layer(name, [x], y).pooling
        message.type = layers_pb2.PoolingLayer.MAX
        message.kernel_shape.extend([size, size])
        message.strides.extend([size, size])
        message.padding.valid.SetInParent()

    def flatten(self, name: str, x: str, y: str) -> None:
        self._layer(name, [x], y).flatten.axis = 1

    def reshape(self, name: str, x: str, y: str, shape: Sequence[int]) -> None:
        self._layer(name, [x], y).reshape.target_shape.extend(shape)

    def concat(self, name: str, xs: Sequence[str], y: str) -> None:
        self._layer(name, xs, y).concat.axis = 1

    def add(self, name: str, xs: Sequence[str], y: str) -> None:
        self._layer(name, xs, y).add.SetInParent()

    def dropout(self, name: str, x: str, y: str, rate: float) -> None:
        self._layer(name, [x], y).dropout.rate = rate

    def onnx_node(self, name: str, x: str, y: str, op_type: str, dims: Dims) -> None:
        message = self._layer(name, [x], y).onnx_node
        message.op_type = op_type
        message.node_inputs.append(x)
        output_type = message.output_types.add(dtype=tensor_pb2.FLOAT32)
        set_dims(output_type, ["batch", *dims])

    def output(self, name: str) -> None:
        self.outputs.append(name)

    def loss(
        self, name: str, kind: str, x: str, target: str, *, weight: float | None = None, **options: float
    ) -> None:
        loss = self.model.update_parameters.loss_layers.add(name=name, input=x, target=target)
        if weight is not None:
            loss.weight = weight
        message = getattr(loss, kind)
        message.SetInParent()
        for key, value in options.items():
            setattr(message, key, value)

    def sgd(
        self,
        lr: float = 0.1,
        *,
        momentum: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        batch: int = 4,
    ) -> None:
        sgd = self.model.update_parameters.optimizer.sgd
        sgd.learning_rate.CopyFrom(double_parameter(lr, (0.0, 10.0)))
        sgd.mini_batch_size.CopyFrom(int_parameter(batch, (1, 1024)))
        sgd.momentum.CopyFrom(double_parameter(momentum, (0.0, 0.999)))
        sgd.nesterov.default_value = nesterov
        sgd.weight_decay.CopyFrom(double_parameter(weight_decay, (0.0, 1.0)))
        self._schedule()

    def adam(
        self,
        lr: float = 0.01,
        *,
        decoupled: bool = False,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        optimizer = self.model.update_parameters.optimizer
        adam = optimizer.adamw if decoupled else optimizer.adam
        adam.learning_rate.CopyFrom(double_parameter(lr, (0.0, 10.0)))
        adam.mini_batch_size.CopyFrom(int_parameter(4, (1, 1024)))
        adam.beta1.CopyFrom(double_parameter(betas[0], (0.0, 0.9999)))
        adam.beta2.CopyFrom(double_parameter(betas[1], (0.0, 0.9999)))
        adam.eps.CopyFrom(double_parameter(eps, (1e-12, 1.0)))
        adam.weight_decay.CopyFrom(double_parameter(weight_decay, (0.0, 1.0)))
        self._schedule()

    def clip(self, *, norm: float | None = None, value: float | None = None) -> None:
        clipping = self.model.update_parameters.clipping
        if norm is not None:
            clipping.max_norm.CopyFrom(double_parameter(norm, (1e-6, 100.0)))
        if value is not None:
            clipping.max_value.CopyFrom(double_parameter(value, (1e-6, 100.0)))

    def _schedule(self) -> None:
        update = self.model.update_parameters
        update.epochs.CopyFrom(int_parameter(2, (1, 100)))
        update.shuffle.default_value = True
        update.seed.CopyFrom(int_parameter(0, (0, 2**31 - 1)))

    def spec_with_sgd(self, lr: float = 0.1) -> model_pb2.Model:
        self.sgd(lr)
        return self.spec()

    def spec(self) -> model_pb2.Model:
        shapes = infer_shapes(self.model)
        del self.model.description.outputs[:]
        for name in self.outputs:
            feature = self.model.description.outputs.add(name=name)
            info = shapes[name]
            feature.type.tensor.dtype = info.dtype  # type: ignore[assignment]
            set_dims(feature.type.tensor, [d if d is not None else "batch" for d in (info.dims or ())])
        if self.model.HasField("classifier"):
            label = self.model.description.outputs.add(name="label")
            if self.model.classifier.WhichOneof("labels") == "string_labels":
                label.type.string_type.SetInParent()
            else:
                label.type.int64_type.SetInParent()
        return self.model


def mlp(*, optimizer: str = "sgd", hidden: int = 8, classes: int = 3, features: int = 4) -> model_pb2.Model:
    """x[4] -> dense -> relu -> dense -> softmax, cross-entropy on the probabilities."""
    maker = SpecMaker("mlp")
    maker.input("x", [features])
    maker.dense("fc1", "x", "h", (features, hidden))
    maker.activation("relu", "h", "h_relu")
    maker.dense("fc2", "h_relu", "logits", (hidden, classes))
    maker.softmax("softmax", "logits", "probs")
    maker.output("probs")
    maker.classifier([f"class{i}" for i in range(classes)], "probs")
    maker.target("y", kind="string")
    maker.loss("ce", "categorical_cross_entropy", "probs", "y")
    if optimizer == "sgd":
        maker.sgd()
    else:
        maker.adam(decoupled=optimizer == "adamw")
    return maker.spec()


def merge_paths(maker: SpecMaker, outputs: int) -> str:
    """x[4] -> updatable fc1 and frozen side -> concat, add, concat, reshape, flatten -> updatable fc2.

    Core ML cannot backpropagate through concat, add or reshape; gradients must reach fc1 here.
    Returns fc2's output, "y".
    """
    maker.input("x", [4])
    maker.dense("fc1", "x", "a", (4, 6))
    maker.dense("side", "x", "b", (4, 6), updatable=False)
    maker.concat("cat", ["a", "b"], "ab")
    maker.add("sum", ["a", "b"], "s")
    maker.concat("cat2", ["ab", "s"], "all")
    maker.reshape("grid", "all", "g", [3, 6])
    maker.flatten("flat", "g", "f")
    maker.dense("fc2", "f", "y", (18, outputs))
    return "y"


def dense_mse(configure: Callable[[SpecMaker], None]) -> model_pb2.Model:
    """x[4] -> dense "fc" -> y[3] under mean squared error against t[3]: the gradient has a closed
    form (optim_reference.dense_mse_gradients); `configure` adds the optimizer and the rest."""
    maker = SpecMaker("dense")
    maker.input("x", [4])
    maker.dense("fc", "x", "y", (4, 3))
    maker.output("y")
    maker.target("t", [3])
    maker.loss("mse", "mean_squared_error", "y", "t")
    configure(maker)
    return maker.spec()
