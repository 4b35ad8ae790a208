"""One ``add_*`` method per layer kind in proto/mlspec/v1/layers.proto.

Adding a layer checks only what the layer itself can know: its name is new, its inputs exist,
its output does not clash, and given weights have the right shape. Whole-spec rules (outputs
declared, losses wired) cannot hold while a network is half built, so they are left to the
validating edits and to ``mlspec.spec.validate``.

Sizes a layer could read off its input (input channels, normalised shape) are inferred from
``mlspec.spec.shapes`` when not given, so a network reads like a list of decisions rather than
a list of repeated numbers. Activation defaults: leaky_relu alpha 0.01, elu alpha 1,
hard_sigmoid alpha 0.2 and beta 0.5 (ONNX's), linear alpha 1 and beta 0, clip [0, 6] (ReLU6).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from mlspec._proto import layers_pb2
from mlspec.builder.arrays import fill, fill_weights_and_bias
from mlspec.builder.base import BuilderBase
from mlspec.builder.initializers import InitLike, normal
from mlspec.spec import weights
from mlspec.spec.errors import ShapeError, SpecEditError, layer_ref
from mlspec.spec.kinds import attribute_problems, check_attributes
from mlspec.spec.shapes import Dim
from mlspec.spec.tensor_info import set_dims

PaddingLike = Literal["valid", "same", "same_lower"] | Sequence[int]
ACTIVATION_DEFAULTS: dict[str, tuple[float, float]] = {
    "leaky_relu": (0.01, 0.0),
    "elu": (1.0, 0.0),
    "hard_sigmoid": (0.2, 0.5),
    "linear": (1.0, 0.0),
    "clip": (0.0, 6.0),
}
ACTIVATION_TYPES = tuple(
    name.lower()
    for name, _ in layers_pb2.ActivationLayer.ActivationType.items()
    if name != "ACTIVATION_TYPE_UNSPECIFIED"
)


class SerializableAttribute(Protocol):
    """An onnx.AttributeProto, accepted without the builder importing onnx."""

    def SerializeToString(self) -> bytes: ...  # noqa: N802 (protobuf's name)


def make_padding(padding: PaddingLike, where: str) -> layers_pb2.Padding:
    message = layers_pb2.Padding()
    if padding == "valid":
        message.valid.SetInParent()
    elif padding in ("same", "same_lower"):
        message.same.lower = padding == "same_lower"
    elif isinstance(padding, str):
        raise SpecEditError(
            f"{where}: padding {padding!r} is not one of valid, same, same_lower or a pad list"
        )
    else:
        message.explicit.pads.extend(int(p) for p in padding)
    return message


def _check_attributes(layer: layers_pb2.Layer, where: str) -> None:
    """The validator's own checks and words, so a refused layer reads as validate would report it."""
    try:
        check_attributes(layer)
    except ShapeError as error:
        raise error.at(where, SpecEditError) from None
    problems = attribute_problems(layer, where)
    if problems:
        raise SpecEditError(str(problems[0]))


class LayerAdders(BuilderBase):
    """The construction half of NetworkBuilder."""

    def _append(self, layer: layers_pb2.Layer) -> layers_pb2.Layer:
        where = layer_ref(layer.name)
        if not layer.name:
            raise SpecEditError("a layer needs a non-empty name")
        if any(existing.name == layer.name for existing in self._model.network.layers):
            raise SpecEditError(f"{where}: a layer with this name already exists; pick another name")
        known = self._known_tensors()
        missing = [name for name in layer.inputs if name and name not in known]
        if missing:
            raise SpecEditError(
                f"{where}: input {missing[0]!r} is not a model input or an earlier layer's output; "
                f"known tensors: {', '.join(sorted(known)) or '(none)'}"
            )
        clashing = [name for name in layer.outputs if name in known]
        if clashing:
            raise SpecEditError(f"{where}: output {clashing[0]!r} is already produced; outputs must be new")
        _check_attributes(layer, where)
        self._model.network.layers.append(layer)
        return self._model.network.layers[-1]

    def _new_layer(self, name: str, inputs: Sequence[str], output: str | None) -> layers_pb2.Layer:
        return layers_pb2.Layer(name=name, inputs=list(inputs), outputs=[output or name])

    def _dim(self, tensor: str, axis: int, who: str) -> int:
        info = self._tensor_info(tensor, who)
        assert info.dims is not None
        dim = info.dims[axis] if -len(info.dims) <= axis < len(info.dims) else None
        if not isinstance(dim, int):
            raise SpecEditError(
                f"{who}: axis {axis} of {tensor!r} has no fixed size; pass the size explicitly"
            )
        return dim

    def add_inner_product(
        self,
        name: str,
        input: str,
        output_channels: int,
        *,
        output: str | None = None,
        input_channels: int | None = None,
        has_bias: bool = True,
        weights: npt.ArrayLike | None = None,
        bias: npt.ArrayLike | None = None,
        init: InitLike = "kaiming_uniform",
        seed: int | None = None,
    ) -> layers_pb2.Layer:
        """Dense layer on the last axis; weights are [output_channels, input_channels]."""
        layer = self._new_layer(name, [input], output)
        where = layer_ref(name)
        fan_in = input_channels if input_channels is not None else self._dim(input, -1, where)
        dense = layer.inner_product
        dense.input_channels, dense.output_channels, dense.has_bias = fan_in, output_channels, has_bias
        fill_weights_and_bias(
            dense.weights,
            dense.bias if has_bias else None,
            (output_channels, fan_in),
            given_weights=weights,
            given_bias=bias,
            init=init,
            seed=self._seed_for(seed),
            layer_name=name,
        )
        return self._append(layer)

    def add_convolution(
        self,
        name: str,
        input: str,
        output_channels: int,
        kernel_shape: Sequence[int],
        *,
        output: str | None = None,
        input_channels: int | None = None,
        strides: Sequence[int] = (),
        dilations: Sequence[int] = (),
        groups: int = 1,
        padding: PaddingLike = "valid",
        has_bias: bool = True,
        weights: npt.ArrayLike | None = None,
        bias: npt.ArrayLike | None = None,
        init: InitLike = "kaiming_uniform",
        seed: int | None = None,
    ) -> layers_pb2.Layer:
        """1-D or 2-D convolution (rank from len(kernel_shape)); groups=input_channels is depthwise."""
        layer = self._new_layer(name, [input], output)
        where = layer_ref(name)
        channels = input_channels if input_channels is not None else self._dim(input, 1, where)
        conv = layer.convolution
        conv.input_channels, conv.output_channels, conv.groups = channels, output_channels, groups
        conv.kernel_shape.extend(kernel_shape)
        conv.strides.extend(strides)
        conv.dilations.extend(dilations)
        conv.padding.CopyFrom(make_padding(padding, where))
        conv.has_bias = has_bias
        _check_attributes(layer, where)  # before the weights, whose shape needs a valid groups
        fill_weights_and_bias(
            conv.weights,
            conv.bias if has_bias else None,
            (output_channels, channels // groups, *kernel_shape),
            given_weights=weights,
            given_bias=bias,
            init=init,
            seed=self._seed_for(seed),
            layer_name=name,
        )
        return self._append(layer)

    def add_batch_norm(
        self,
        name: str,
        input: str,
        *,
        output: str | None = None,
        channels: int | None = None,
        epsilon: float = 1e-5,
        momentum: float = 0.9,
        gamma: npt.ArrayLike | None = None,
        beta: npt.ArrayLike | None = None,
        running_mean: npt.ArrayLike | None = None,
        running_variance: npt.ArrayLike | None = None,
        biased_running_variance: bool = False,
    ) -> layers_pb2.Layer:
        """Batch norm over axis 1; momentum uses the ONNX convention (0.9 is PyTorch's 0.1).

        In training the running variance follows the unbiased batch variance, as PyTorch's does;
        `biased_running_variance=True` makes it follow the biased one (ONNX's convention).
        """
        layer = self._new_layer(name, [input], output)
        where = layer_ref(name)
        size = channels if channels is not None else self._dim(input, 1, where)
        norm = layer.batch_norm
        norm.channels, norm.epsilon, norm.momentum = size, epsilon, momentum
        norm.biased_running_variance = biased_running_variance
        given = {
            "gamma": gamma,
            "beta": beta,
            "running_mean": running_mean,
            "running_variance": running_variance,
        }
        for field, value in given.items():
            start = 1.0 if field in ("gamma", "running_variance") else 0.0
            values = np.full((size,), start, np.float32) if value is None else value
            fill(getattr(norm, field), values, (size,), f"{where}.{field}")
        return self._append(layer)

    def add_pooling(
        self,
        name: str,
        input: str,
        pool_type: Literal["max", "average"] = "max",
        kernel_shape: Sequence[int] = (2, 2),
        *,
        output: str | None = None,
        strides: Sequence[int] = (),
        padding: PaddingLike = "valid",
        count_include_pad: bool = False,
    ) -> layers_pb2.Layer:
        """Windowed max or average pooling; strides default to the window (PyTorch's habit)."""
        layer = self._new_layer(name, [input], output)
        pool = layer.pooling
        pool.type = _pooling_type(pool_type, name)
        pool.kernel_shape.extend(kernel_shape)
        pool.strides.extend(strides or kernel_shape)
        pool.padding.CopyFrom(make_padding(padding, layer_ref(name)))
        pool.count_include_pad = count_include_pad
        return self._append(layer)

    def add_global_pooling(
        self,
        name: str,
        input: str,
        pool_type: Literal["max", "average"] = "average",
        *,
        output: str | None = None,
    ) -> layers_pb2.Layer:
        layer = self._new_layer(name, [input], output)
        layer.pooling.type = _pooling_type(pool_type, name)
        setattr(layer.pooling, "global", True)  # a Python keyword, so no attribute syntax
        return self._append(layer)

    def add_activation(
        self,
        name: str,
        input: str,
        activation: str = "relu",
        *,
        output: str | None = None,
        alpha: float | None = None,
        beta: float | None = None,
        approximate_tanh: bool = False,
    ) -> layers_pb2.Layer:
        """Any activation type by its lower-case name (relu, leaky_relu, ..., clip)."""
        kind = activation.lower()
        if kind not in ACTIVATION_TYPES:
            raise SpecEditError(
                f"{layer_ref(name)}: unknown activation {activation!r}; "
                f"use one of {', '.join(ACTIVATION_TYPES)}"
            )
        layer = self._new_layer(name, [input], output)
        default_alpha, default_beta = ACTIVATION_DEFAULTS.get(kind, (0.0, 0.0))
        message = layer.activation
        message.type = layers_pb2.ActivationLayer.ActivationType.Value(kind.upper())  # type: ignore[assignment]
        message.alpha = default_alpha if alpha is None else alpha
        message.beta = default_beta if beta is None else beta
        message.approximate_tanh = approximate_tanh
        return self._append(layer)

    def add_softmax(
        self,
        name: str,
        input: str,
        *,
        output: str | None = None,
        axis: int = -1,
    ) -> layers_pb2.Layer:
        layer = self._new_layer(name, [input], output)
        layer.softmax.axis = axis
        return self._append(layer)

    def add_flatten(
        self,
        name: str,
        input: str,
        *,
        output: str | None = None,
        axis: int = 1,
    ) -> layers_pb2.Layer:
        layer = self._new_layer(name, [input], output)
        layer.flatten.axis = axis
        return self._append(layer)

    def add_reshape(
        self,
        name: str,
        input: str,
        target_shape: Sequence[int],
        *,
        output: str | None = None,
    ) -> layers_pb2.Layer:
        """target_shape is per example; the batch dimension is kept."""
        layer = self._new_layer(name, [input], output)
        layer.reshape.target_shape.extend(target_shape)
        return self._append(layer)

    def add_transpose(
        self,
        name: str,
        input: str,
        perm: Sequence[int],
        *,
        output: str | None = None,
    ) -> layers_pb2.Layer:
        """perm covers every axis, batch included (perm[0] is normally 0)."""
        layer = self._new_layer(name, [input], output)
        layer.transpose.perm.extend(perm)
        return self._append(layer)

    def add_concat(
        self, name: str, inputs: Sequence[str], *, output: str | None = None, axis: int = 1
    ) -> layers_pb2.Layer:
        layer = self._new_layer(name, inputs, output)
        layer.concat.axis = axis
        return self._append(layer)

    def add_add(self, name: str, inputs: Sequence[str], *, output: str | None = None) -> layers_pb2.Layer:
        layer = self._new_layer(name, inputs, output)
        layer.add.SetInParent()
        return self._append(layer)

    def add_multiply(
        self, name: str, inputs: Sequence[str], *, output: str | None = None
    ) -> layers_pb2.Layer:
        layer = self._new_layer(name, inputs, output)
        layer.multiply.SetInParent()
        return self._append(layer)

    def add_dropout(
        self,
        name: str,
        input: str,
        rate: float = 0.5,
        *,
        output: str | None = None,
    ) -> layers_pb2.Layer:
        layer = self._new_layer(name, [input], output)
        layer.dropout.rate = rate
        return self._append(layer)

    def add_layer_norm(
        self,
        name: str,
        input: str,
        *,
        output: str | None = None,
        normalized_shape: Sequence[int] | None = None,
        epsilon: float = 1e-5,
        gamma: npt.ArrayLike | None = None,
        beta: npt.ArrayLike | None = None,
    ) -> layers_pb2.Layer:
        """Normalises the trailing axes; normalized_shape defaults to the input's last axis."""
        layer = self._new_layer(name, [input], output)
        where = layer_ref(name)
        shape = tuple(normalized_shape) if normalized_shape is not None else (self._dim(input, -1, where),)
        norm = layer.layer_norm
        norm.normalized_shape.extend(shape)
        norm.epsilon = epsilon
        fill(norm.gamma, np.ones(shape, np.float32) if gamma is None else gamma, shape, f"{where}.gamma")
        fill(norm.beta, np.zeros(shape, np.float32) if beta is None else beta, shape, f"{where}.beta")
        return self._append(layer)

    def add_embedding(
        self,
        name: str,
        input: str,
        vocab_size: int,
        embedding_dim: int,
        *,
        output: str | None = None,
        weights: npt.ArrayLike | None = None,
        init: InitLike | None = None,
        seed: int | None = None,
    ) -> layers_pb2.Layer:
        """Row lookup; weights default to N(0, 1) like nn.Embedding."""
        layer = self._new_layer(name, [input], output)
        table = layer.embedding
        table.vocab_size, table.embedding_dim = vocab_size, embedding_dim
        fill_weights_and_bias(
            table.weights,
            None,
            (vocab_size, embedding_dim),
            given_weights=weights,
            given_bias=None,
            init=normal() if init is None else init,
            seed=self._seed_for(seed),
            layer_name=name,
        )
        return self._append(layer)

    def add_onnx_node(
        self,
        name: str,
        inputs: Sequence[str],
        op_type: str,
        *,
        outputs: Sequence[str] | None = None,
        output_types: Sequence[tuple[int, Sequence[Dim]]] = (),
        domain: str = "",
        attributes: Sequence[bytes | SerializableAttribute] = (),
        constants: Mapping[str, npt.ArrayLike] | None = None,
        node_inputs: Sequence[str] | None = None,
    ) -> layers_pb2.Layer:
        """A frozen ONNX node; output_types are (dtype code, dims) so shape checks continue past it.

        node_inputs lists the ONNX inputs in order (layer inputs, constant names, or "" for an
        omitted optional input); it defaults to the layer inputs followed by the constants.
        """
        layer = layers_pb2.Layer(name=name, inputs=list(inputs), outputs=list(outputs or [name]))
        node = layer.onnx_node
        node.op_type, node.domain = op_type, domain
        node.attributes.extend(a if isinstance(a, bytes) else a.SerializeToString() for a in attributes)
        for constant_name, values in (constants or {}).items():
            entry = node.constants.add(name=constant_name)
            weights.set_tensor(entry.tensor, np.asarray(values))
        node.node_inputs.extend(node_inputs if node_inputs is not None else [*inputs, *(constants or {})])
        for dtype, dims in output_types:
            declared = node.output_types.add(dtype=dtype)
            set_dims(declared, dims)
        return self._append(layer)


def _pooling_type(pool_type: str, name: str) -> layers_pb2.PoolingLayer.PoolingType:
    kinds = {"max": layers_pb2.PoolingLayer.MAX, "average": layers_pb2.PoolingLayer.AVERAGE}
    if pool_type not in kinds:
        raise SpecEditError(f"{layer_ref(name)}: pooling type {pool_type!r} is not max or average")
    return kinds[pool_type]
