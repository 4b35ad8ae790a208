"""Specs for tests, written directly in protobuf: the one spec factory of the suite.

Kept independent of the builder so that a change there cannot move the yardstick the tests
measure the validator, the converter and the backends against. Three levels:
- features and layers (`tensor_feature`, `layer`, `dense`, ...), to splice into a spec by hand;
- whole small models (`classifier`, `regressor`, `network`, `mlp`, `dense_mse`);
- `SpecMaker`, which appends layers, losses and an optimizer and fills the outputs from the
  inferred shapes.
Weights come from seeded generators, so every call builds the same spec in every run.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import cast

import numpy as np
import numpy.typing as npt
from google.protobuf.message import Message

from mlspec._proto import layers_pb2, model_pb2, tensor_pb2
from mlspec.spec.hyper import double_parameter, int_parameter
from mlspec.spec.shapes import infer_shapes
from mlspec.spec.tensor_info import set_dims
from mlspec.spec.weights import make_tensor, set_tensor

Dims = Sequence[int | str]
DType = tensor_pb2.DataType
Activation = layers_pb2.ActivationLayer.ActivationType
FLOAT32 = tensor_pb2.FLOAT32

# What `weights` draws from: one stream for the whole process, as the specs it feeds need only
# be fixed for a given order of calls.
RNG = np.random.default_rng(0)

# A field value `layer()` can set: arrays become weight tensors, sequences fill repeated fields,
# messages are copied, scalars are assigned.
FieldValue = (
    npt.NDArray[np.generic]
    | Message
    | Sequence[Message]
    | Sequence[int]
    | Sequence[float]
    | Sequence[str]
    | float
    | str
)


def tensor_type(dims: Dims, dtype: DType = FLOAT32) -> tensor_pb2.TensorType:
    made = tensor_pb2.TensorType(dtype=dtype)
    set_dims(made, dims)
    return made


def tensor_feature(name: str, dims: Dims, dtype: DType = FLOAT32) -> tensor_pb2.FeatureDescription:
    feature = tensor_pb2.FeatureDescription(name=name)
    feature.type.tensor.dtype = dtype
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
    """Standard-normal float32 values of `shape`, drawn from `RNG`."""
    return make_tensor(RNG.standard_normal(shape).astype(np.float32), is_updatable=updatable)


def layer(
    kind: str,
    name: str,
    inputs: Sequence[str],
    *,
    outputs: Sequence[str] | None = None,
    updatable: bool = False,
    **fields: FieldValue,
) -> layers_pb2.Layer:
    """One layer of `kind` (the oneof field's name) with `fields` set on its message by name.

    The output defaults to the layer's own name; float arrays are stored as weights flagged
    updatable when the layer is. A kind with no fields gets an empty message, which still
    selects it.
    """
    built = layers_pb2.Layer(name=name, inputs=list(inputs), outputs=list(outputs or [name]))
    built.is_updatable = updatable
    message = getattr(built, kind)
    message.SetInParent()
    for key, value in fields.items():
        if isinstance(value, np.ndarray):
            set_tensor(getattr(message, key), value, is_updatable=updatable)
        elif isinstance(value, Message):
            getattr(message, key).CopyFrom(value)
        elif isinstance(value, (list, tuple)):
            getattr(message, key).extend(value)
        else:
            setattr(message, key, value)
    return built


def padding(kind: str, *, pads: Sequence[int] = (), lower: bool = False) -> layers_pb2.Padding:
    """kind: valid, same or explicit."""
    made = layers_pb2.Padding()
    if kind == "explicit":
        made.explicit.pads.extend(pads)
    elif kind == "same":
        made.same.lower = lower
    else:
        made.valid.SetInParent()
    return made


_padding = padding  # for SpecMaker.conv, whose keyword `padding` hides the function


def weighted(
    kind: str,
    name: str,
    source: str,
    output: str,
    *,
    kernel: npt.NDArray[np.float32],
    bias: npt.NDArray[np.float32],
    updatable: bool,
    **fields: FieldValue,
) -> layers_pb2.Layer:
    """An inner product or convolution with bias, holding `kernel` [out, in, ...] and `bias` [out]."""
    return layer(
        kind,
        name,
        [source],
        outputs=[output],
        updatable=updatable,
        input_channels=kernel.shape[1],
        output_channels=kernel.shape[0],
        has_bias=True,
        weights=kernel,
        bias=bias,
        **fields,
    )


def dense(
    name: str, source: str, output: str, n_in: int, n_out: int, *, updatable: bool = False
) -> layers_pb2.Layer:
    """An inner product with bias, standard-normal weights from `RNG`."""
    kernel = RNG.standard_normal((n_out, n_in)).astype(np.float32)
    bias = RNG.standard_normal(n_out).astype(np.float32)
    return weighted("inner_product", name, source, output, kernel=kernel, bias=bias, updatable=updatable)


def activation(
    name: str, source: str, output: str, kind: str | Activation = layers_pb2.ActivationLayer.RELU
) -> layers_pb2.Layer:
    """kind: an ActivationType value or its name ("TANH")."""
    code = Activation.Value(kind) if isinstance(kind, str) else kind
    return layer("activation", name, [source], outputs=[output], type=code)


def softmax(name: str, source: str, output: str) -> layers_pb2.Layer:
    """A softmax that leaves its axis unset (proto3's 0)."""
    return layer("softmax", name, [source], outputs=[output])


def sgd(model: model_pb2.Model, *, lr: float = 0.01, batch: int = 8) -> None:
    """Plain SGD with only a learning rate and a mini-batch size (allowed: batch or 2 * batch)."""
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


def network(
    inputs: Mapping[str, Dims],
    layers: Sequence[layers_pb2.Layer],
    outputs: Sequence[str] | None = None,
    *,
    dtypes: Mapping[str, DType] | None = None,
) -> model_pb2.Model:
    """A model whose outputs default to the last layer's, with unknown shapes; inputs are float32
    unless `dtypes` says."""
    model = model_pb2.Model(spec_version=1)
    model.metadata.name = "forward_test"
    for name, dims in inputs.items():
        dtype = (dtypes or {}).get(name, FLOAT32)
        model.description.inputs.append(tensor_feature(name, dims, dtype))
    model.network.layers.extend(layers)
    for name in outputs if outputs is not None else layers[-1].outputs:
        model.description.outputs.append(tensor_feature(name, ()))
    return model


def add_loss(model: model_pb2.Model, tensor: str, dims: Dims) -> None:
    """An MSE loss on `tensor` against a training input "<tensor>_target"; marks the model updatable."""
    model.is_updatable = True
    target = f"{tensor}_target"
    model.description.training_inputs.append(tensor_feature(target, dims))
    loss = model.update_parameters.loss_layers.add(name=f"{tensor}_mse", input=tensor, target=target)
    loss.mean_squared_error.SetInParent()


class SpecMaker:
    """Append layers, losses and an optimizer; `spec()` fills outputs and returns the Model.

    Every feature gets a leading "batch" dimension; layers are updatable where the method says.
    Weights are drawn from the maker's own generator, scaled like a usual initialisation.
    """

    def __init__(self, name: str = "test", seed: int = 0) -> None:
        self.model = model_pb2.Model(spec_version=1, is_updatable=True)
        self.model.metadata.name = name
        self.rng = np.random.default_rng(seed)
        self.outputs: list[str] = []

    def _normal(self, shape: tuple[int, ...], scale: float) -> npt.NDArray[np.float32]:
        return self.rng.normal(0.0, scale, size=shape).astype(np.float32)

    def _gamma(self, size: int) -> npt.NDArray[np.float32]:
        return (1.0 + 0.1 * self.rng.normal(size=size).astype(np.float32)).astype(np.float32)

    def _add(self, built: layers_pb2.Layer) -> None:
        self.model.network.layers.append(built)

    def input(self, name: str, dims: Dims, dtype: DType = FLOAT32) -> None:
        self.model.description.inputs.append(tensor_feature(name, ["batch", *dims], dtype))

    def target(self, name: str, dims: Dims | None = None, kind: str = "float") -> None:
        """kind: float, int64 (a scalar without dims, else a tensor) or string."""
        if kind == "string":
            feature = string_feature(name)
        elif kind == "int64" and dims is None:
            feature = int64_feature(name)
        else:
            dtype = tensor_pb2.INT64 if kind == "int64" else FLOAT32
            feature = tensor_feature(name, ["batch", *(dims or [])], dtype)
        self.model.description.training_inputs.append(feature)

    def classifier(self, labels: Sequence[str] | Sequence[int], probabilities: str) -> None:
        info = self.model.classifier
        if isinstance(labels[0], str):
            info.string_labels.values.extend([str(v) for v in labels])
        else:
            info.int64_labels.values.extend([int(v) for v in labels])
        info.predicted_feature_name = "label"
        info.predicted_probabilities_name = probabilities

    def dense(self, name: str, x: str, y: str, sizes: tuple[int, int], *, updatable: bool = True) -> None:
        n_in, n_out = sizes
        kernel = self._normal((n_out, n_in), 1.0 / np.sqrt(n_in))
        bias = self._normal((n_out,), 0.1)
        self._add(weighted("inner_product", name, x, y, kernel=kernel, bias=bias, updatable=updatable))

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
        """padding: valid or same."""
        c_in, c_out = channels
        fan_in = c_in * int(np.prod(kernel))
        weights = self._normal((c_out, c_in, *kernel), 1.0 / np.sqrt(fan_in))
        bias = self._normal((c_out,), 0.1)
        made = _padding("same" if padding == "same" else "valid")
        self._add(
            weighted(
                "convolution",
                name,
                x,
                y,
                kernel=weights,
                bias=bias,
                updatable=True,
                kernel_shape=kernel,
                padding=made,
            )
        )

    def batch_norm(self, name: str, x: str, y: str, channels: int, momentum: float = 0.9) -> None:
        self._add(
            layer(
                "batch_norm",
                name,
                [x],
                outputs=[y],
                updatable=True,
                channels=channels,
                epsilon=1e-5,
                momentum=momentum,
                gamma=self._gamma(channels),
                beta=self._normal((channels,), 0.1),
            )
        )
        message = self.model.network.layers[-1].batch_norm
        # Running statistics are state, not trained weights: never flagged updatable.
        message.running_mean.CopyFrom(make_tensor(np.zeros(channels, np.float32)))
        message.running_variance.CopyFrom(make_tensor(np.ones(channels, np.float32)))

    def layer_norm(self, name: str, x: str, y: str, size: int) -> None:
        self._add(
            layer(
                "layer_norm",
                name,
                [x],
                outputs=[y],
                updatable=True,
                normalized_shape=[size],
                epsilon=1e-5,
                gamma=self._gamma(size),
                beta=self._normal((size,), 0.1),
            )
        )

    def embedding(self, name: str, x: str, y: str, vocab: int, dim: int) -> None:
        self._add(
            layer(
                "embedding",
                name,
                [x],
                outputs=[y],
                updatable=True,
                vocab_size=vocab,
                embedding_dim=dim,
                weights=self._normal((vocab, dim), 0.5),
            )
        )

    def activation(
        self, name: str, x: str, y: str, kind: Activation = layers_pb2.ActivationLayer.RELU
    ) -> None:
        self.model.network.layers.append(activation(name, x, y, kind))

    def softmax(self, name: str, x: str, y: str) -> None:
        self._add(layer("softmax", name, [x], outputs=[y], axis=-1))

    def max_pool(self, name: str, x: str, y: str, size: int) -> None:
        self._add(
            layer(
                "pooling",
                name,
                [x],
                outputs=[y],
                type=layers_pb2.PoolingLayer.MAX,
                kernel_shape=[size, size],
                strides=[size, size],
                padding=padding("valid"),
            )
        )

    def flatten(self, name: str, x: str, y: str) -> None:
        self._add(layer("flatten", name, [x], outputs=[y], axis=1))

    def reshape(self, name: str, x: str, y: str, shape: Sequence[int]) -> None:
        self._add(layer("reshape", name, [x], outputs=[y], target_shape=shape))

    def concat(self, name: str, xs: Sequence[str], y: str) -> None:
        self._add(layer("concat", name, xs, outputs=[y], axis=1))

    def add(self, name: str, xs: Sequence[str], y: str) -> None:
        self._add(layer("add", name, xs, outputs=[y]))

    def dropout(self, name: str, x: str, y: str, rate: float) -> None:
        self._add(layer("dropout", name, [x], outputs=[y], rate=rate))

    def onnx_node(self, name: str, x: str, y: str, op_type: str, dims: Dims) -> None:
        """An opaque ONNX node of `op_type` on x whose float32 output has `dims` after the batch."""
        output_type = tensor_type(["batch", *dims])
        self._add(
            layer(
                "onnx_node",
                name,
                [x],
                outputs=[y],
                op_type=op_type,
                node_inputs=[x],
                output_types=[output_type],
            )
        )

    def output(self, name: str) -> None:
        self.outputs.append(name)

    def loss(
        self, name: str, kind: str, x: str, target: str, /, *, weight: float | None = None, **options: float
    ) -> None:
        """kind: the loss oneof field's name; `options` are set on its message."""
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
    ) -> SpecMaker:
        """SGD as PyTorch's; returns the maker, so a clip can follow (`m.sgd(0.1).clip(norm=1)`)."""
        sgd = self.model.update_parameters.optimizer.sgd
        sgd.learning_rate.CopyFrom(double_parameter(lr, (0.0, 10.0)))
        sgd.mini_batch_size.CopyFrom(int_parameter(batch, (1, 1024)))
        sgd.momentum.CopyFrom(double_parameter(momentum, (0.0, 0.999)))
        sgd.nesterov.default_value = nesterov
        sgd.weight_decay.CopyFrom(double_parameter(weight_decay, (0.0, 1.0)))
        self._schedule()
        return self

    def adam(
        self,
        lr: float = 0.01,
        *,
        decoupled: bool = False,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> SpecMaker:
        """decoupled: AdamW rather than Adam. Returns the maker, as `sgd` does."""
        optimizer = self.model.update_parameters.optimizer
        adam = optimizer.adamw if decoupled else optimizer.adam
        adam.learning_rate.CopyFrom(double_parameter(lr, (0.0, 10.0)))
        adam.mini_batch_size.CopyFrom(int_parameter(4, (1, 1024)))
        adam.beta1.CopyFrom(double_parameter(betas[0], (0.0, 0.9999)))
        adam.beta2.CopyFrom(double_parameter(betas[1], (0.0, 0.9999)))
        adam.eps.CopyFrom(double_parameter(eps, (1e-12, 1.0)))
        adam.weight_decay.CopyFrom(double_parameter(weight_decay, (0.0, 1.0)))
        self._schedule()
        return self

    def clip(self, *, norm: float | None = None, value: float | None = None) -> SpecMaker:
        clipping = self.model.update_parameters.clipping
        if norm is not None:
            clipping.max_norm.CopyFrom(double_parameter(norm, (1e-6, 100.0)))
        if value is not None:
            clipping.max_value.CopyFrom(double_parameter(value, (1e-6, 100.0)))
        return self

    def _schedule(self) -> None:
        update = self.model.update_parameters
        update.epochs.CopyFrom(int_parameter(2, (1, 100)))
        update.shuffle.default_value = True
        update.seed.CopyFrom(int_parameter(0, (0, 2**31 - 1)))

    def spec_with_sgd(self, lr: float = 0.1) -> model_pb2.Model:
        self.sgd(lr)
        return self.spec()

    def spec(self) -> model_pb2.Model:
        """The model with the declared outputs typed from shape inference (and a classifier's label)."""
        shapes = infer_shapes(self.model)
        del self.model.description.outputs[:]
        for name in self.outputs:
            info = shapes[name]
            dims = [d if d is not None else "batch" for d in (info.dims or ())]
            # Inference keeps dtypes as plain ints; they are DataType values.
            dtype = cast(DType, info.dtype)
            self.model.description.outputs.append(tensor_feature(name, dims, dtype))
        if self.model.HasField("classifier"):
            if self.model.classifier.WhichOneof("labels") == "string_labels":
                self.model.description.outputs.append(string_feature("label"))
            else:
                self.model.description.outputs.append(int64_feature("label"))
        return self.model


def mlp(*, optimizer: str = "sgd", hidden: int = 8, classes: int = 3, features: int = 4) -> model_pb2.Model:
    """x[4] -> dense -> relu -> dense -> softmax, cross-entropy on the probabilities.

    optimizer: sgd, adam or adamw.
    """
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


def dense_mse(configure: Callable[[SpecMaker], object]) -> model_pb2.Model:
    """x[4] -> dense "fc" -> y[3] under mean squared error against t[3]: the gradient has a closed
    form (optim_reference.dense_mse_gradients); `configure` adds the optimizer and the rest (what it
    returns is ignored)."""
    maker = SpecMaker("dense")
    maker.input("x", [4])
    maker.dense("fc", "x", "y", (4, 3))
    maker.output("y")
    maker.target("t", [3])
    maker.loss("mse", "mean_squared_error", "y", "t")
    configure(maker)
    return maker.spec()
