"""Core ML NeuralNetwork layers -> mlspec layers.

Layout. Core ML's classic layers see every tensor as rank 5, [Seq, Batch, C, H, W]; an array
feature of shape [C] is [C, 1, 1] and one of shape [C, H, W] is itself. mlspec keeps a leading
batch and nothing else, so the importer tracks each tensor's mlspec rank:
- 2, a vector [batch, C]: array inputs of shape [C], and outputs of flatten and inner products;
- 4, an image [batch, C, H, W]: array inputs [C, H, W], convolution, pooling and reshape outputs.
Core ML's C axis is axis 1 in both. Where a layer needs the other form it gets an adapter layer:
an inner product fed an image ([C, 1, 1] in Core ML) reads it through a flatten
("{layer}_flatten"), and a convolution, pooling, add, multiply or concat fed a vector reads it
through a reshape to [C, 1, 1] ("{layer}_reshape"). Softmax runs over axis 1 either way.

Weights are read from floatValue or float16Value and stored as float32; Core ML's updatable
flags on layers and weights are kept.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from mlspec._proto import layers_pb2
from mlspec.spec.weights import set_tensor

VECTOR, IMAGE = 2, 4
Activation = layers_pb2.ActivationLayer


class UnmappableLayerError(Exception):
    """This Core ML layer (or this use of it) has no mlspec equivalent; the text says why."""


@dataclass
class CoreMLContext:
    """Tensor ranks and the layers emitted so far, shared by the layer mappers."""

    ranks: dict[str, int | None] = field(default_factory=dict)
    layers: list[layers_pb2.Layer] = field(default_factory=list)
    # Model inputs read by embedding layers: they hold ids and are imported as int64.
    id_inputs: set[str] = field(default_factory=set)

    def emit(self, layer: layers_pb2.Layer, rank: int | None) -> layers_pb2.Layer:
        self.layers.append(layer)
        for name in layer.outputs:
            self.ranks[name] = rank
        return layer

    def as_vector(self, source: str, owner: str) -> str:
        if self.ranks.get(source) != IMAGE:
            return source
        adapter = layers_pb2.Layer(
            name=f"{owner}_flatten", inputs=[source], outputs=[f"{owner}/flattened_input"]
        )
        adapter.flatten.axis = 1
        return self.emit(adapter, VECTOR).outputs[0]

    def as_image(self, source: str, owner: str, suffix: str = "") -> str:
        if self.ranks.get(source) != VECTOR:
            return source
        adapter = layers_pb2.Layer(
            name=f"{owner}_reshape{suffix}", inputs=[source], outputs=[f"{owner}/image_input{suffix}"]
        )
        adapter.reshape.target_shape[:] = [-1, 1, 1]
        return self.emit(adapter, IMAGE).outputs[0]


def weight_array(params: Any, where: str) -> npt.NDArray[np.float32]:
    if len(params.floatValue):
        return np.asarray(params.floatValue, dtype=np.float32)
    if params.float16Value:
        return np.frombuffer(params.float16Value, dtype="<f2").astype(np.float32)
    if params.rawValue or params.int8RawValue or params.HasField("quantization"):
        raise UnmappableLayerError(
            f"{where} holds quantized or raw weights; store them as float32 or float16"
        )
    return np.zeros(0, dtype=np.float32)


def _store(
    tensor: Any, values: npt.NDArray[np.float32], shape: tuple[int, ...], params: Any, where: str
) -> None:
    if values.size != math.prod(shape):  # Python ints: np.prod wraps on huge dims
        raise UnmappableLayerError(
            f"{where} holds {values.size} values, expected {' x '.join(map(str, shape))}"
        )
    set_tensor(tensor, values.reshape(shape), dtype=np.float32, is_updatable=bool(params.isUpdatable))


def _new(source: Any, inputs: list[str]) -> layers_pb2.Layer:
    return layers_pb2.Layer(
        name=source.name, inputs=inputs, outputs=list(source.output), is_updatable=bool(source.isUpdatable)
    )


def _inner_product(ctx: CoreMLContext, source: Any) -> None:
    params = source.innerProduct
    layer = _new(source, [ctx.as_vector(source.input[0], source.name)])
    spec = layer.inner_product
    spec.input_channels, spec.output_channels = params.inputChannels, params.outputChannels
    spec.has_bias = params.hasBias
    shape = (int(params.outputChannels), int(params.inputChannels))
    _store(spec.weights, weight_array(params.weights, "weights"), shape, params.weights, "weights")
    if params.hasBias:
        _store(spec.bias, weight_array(params.bias, "bias"), shape[:1], params.bias, "bias")
    ctx.emit(layer, VECTOR)


def _padding(params: Any, oneof: str, target: layers_pb2.Padding) -> None:
    which = params.WhichOneof(oneof)
    if which == "same":
        target.same.lower = params.same.asymmetryMode == 1  # TOP_LEFT_HEAVY
        return
    if which != "valid":
        raise UnmappableLayerError(
            "includeLastPixel padding has no mlspec equivalent; use valid or same padding"
        )
    edges = list(params.valid.paddingAmounts.borderAmounts)
    pads = [int(e.startEdgeSize) for e in edges] + [int(e.endEdgeSize) for e in edges]
    if any(pads):
        target.explicit.pads[:] = pads
    else:
        target.valid.SetInParent()


def _convolution(ctx: CoreMLContext, source: Any) -> None:
    params = source.convolution
    if params.isDeconvolution:
        raise UnmappableLayerError("deconvolution has no mlspec kind")
    layer = _new(source, [ctx.as_image(source.input[0], source.name)])
    spec = layer.convolution
    groups = int(params.nGroups) or 1
    kernel = [int(k) for k in params.kernelSize] or [3, 3]
    spec.output_channels = params.outputChannels
    spec.input_channels = params.kernelChannels * groups
    spec.kernel_shape[:] = kernel
    spec.strides[:] = [int(s) for s in params.stride] or [1, 1]
    spec.dilations[:] = [int(d) for d in params.dilationFactor] or [1, 1]
    spec.groups = groups
    spec.has_bias = params.hasBias
    _padding(params, "ConvolutionPaddingType", spec.padding)
    shape = (int(params.outputChannels), int(params.kernelChannels), *kernel)
    _store(spec.weights, weight_array(params.weights, "weights"), shape, params.weights, "weights")
    if params.hasBias:
        _store(spec.bias, weight_array(params.bias, "bias"), shape[:1], params.bias, "bias")
    ctx.emit(layer, IMAGE)


def _batchnorm(ctx: CoreMLContext, source: Any) -> None:
    params = source.batchnorm
    if params.computeMeanVar or params.instanceNormalization:
        raise UnmappableLayerError(
            "batchnorm with computeMeanVar or instanceNormalization has no mlspec kind"
        )
    layer = _new(source, [source.input[0]])
    spec = layer.batch_norm
    spec.channels = params.channels
    spec.epsilon = params.epsilon
    spec.momentum = 0.9  # Core ML has no momentum; the ONNX default
    channels = (int(params.channels),)
    pairs = (("gamma", "gamma"), ("beta", "beta"), ("running_mean", "mean"), ("running_variance", "variance"))
    for ours, theirs in pairs:
        weights = getattr(params, theirs)
        _store(getattr(spec, ours), weight_array(weights, theirs), channels, weights, theirs)
    ctx.emit(layer, ctx.ranks.get(source.input[0]))


def _pooling(ctx: CoreMLContext, source: Any) -> None:
    params = source.pooling
    if params.type not in (0, 1):
        raise UnmappableLayerError("L2 pooling has no mlspec kind")
    layer = _new(source, [ctx.as_image(source.input[0], source.name)])
    spec = layer.pooling
    spec.type = layers_pb2.PoolingLayer.MAX if params.type == 0 else layers_pb2.PoolingLayer.AVERAGE
    if params.globalPooling:
        setattr(spec, "global", True)  # "global" is a Python keyword
    else:
        spec.kernel_shape[:] = [int(k) for k in params.kernelSize] or [3, 3]
        spec.strides[:] = [int(s) for s in params.stride] or [1, 1]
        _padding(params, "PoolingPaddingType", spec.padding)
        spec.count_include_pad = not params.avgPoolExcludePadding
    ctx.emit(layer, IMAGE)


_ACTIVATIONS: dict[str, Callable[[Any], tuple[int, float, float]]] = {
    "ReLU": lambda p: (Activation.RELU, 0.0, 0.0),
    "leakyReLU": lambda p: (Activation.LEAKY_RELU, p.leakyReLU.alpha, 0.0),
    "sigmoid": lambda p: (Activation.SIGMOID, 0.0, 0.0),
    "tanh": lambda p: (Activation.TANH, 0.0, 0.0),
    "linear": lambda p: (Activation.LINEAR, p.linear.alpha, p.linear.beta),
    "ELU": lambda p: (Activation.ELU, p.ELU.alpha, 0.0),
    "softplus": lambda p: (Activation.SOFTPLUS, 0.0, 0.0),
    "sigmoidHard": lambda p: (Activation.HARD_SIGMOID, p.sigmoidHard.alpha, p.sigmoidHard.beta),
}


def _activation(ctx: CoreMLContext, source: Any) -> None:
    which = source.activation.WhichOneof("NonlinearityType")
    if which not in _ACTIVATIONS:
        raise UnmappableLayerError(
            f"activation {which} has no mlspec type; mapped: {', '.join(_ACTIVATIONS)}"
        )
    kind, alpha, beta = _ACTIVATIONS[which](source.activation)
    _linear_like(ctx, source, source.input[0], kind, alpha=alpha, beta=beta)


def _linear_like(
    ctx: CoreMLContext, source: Any, tensor: str, kind: int, *, alpha: float, beta: float
) -> None:
    layer = _new(source, [tensor])
    layer.activation.type = kind  # type: ignore[assignment]
    layer.activation.alpha = alpha
    layer.activation.beta = beta
    ctx.emit(layer, ctx.ranks.get(tensor))


def _softmax(ctx: CoreMLContext, source: Any) -> None:
    layer = _new(source, [source.input[0]])
    layer.softmax.axis = 1  # Core ML's C axis
    ctx.emit(layer, ctx.ranks.get(source.input[0]))


def _flatten(ctx: CoreMLContext, source: Any) -> None:
    tensor = source.input[0]
    if source.flatten.mode == 1 and ctx.ranks.get(tensor) == IMAGE:  # CHANNEL_LAST: H, W, C order
        swap = layers_pb2.Layer(
            name=f"{source.name}_transpose", inputs=[tensor], outputs=[f"{source.name}/hwc"]
        )
        swap.transpose.perm[:] = [0, 2, 3, 1]
        tensor = ctx.emit(swap, IMAGE).outputs[0]
    layer = _new(source, [tensor])
    layer.flatten.axis = 1
    ctx.emit(layer, VECTOR)


def _reshape(ctx: CoreMLContext, source: Any) -> None:
    params = source.reshape
    target = [int(d) for d in params.targetShape]
    if params.mode != 0:
        raise UnmappableLayerError("reshape in CHANNEL_LAST mode has no mlspec equivalent")
    if len(target) == 4:
        if target[0] != 1:
            raise UnmappableLayerError(f"reshape to {target} changes the sequence axis")
        target = target[1:]
    if len(target) != 3:
        raise UnmappableLayerError(f"reshape target {target} is not [C, H, W] or [1, C, H, W]")
    layer = _new(source, [source.input[0]])
    layer.reshape.target_shape[:] = target
    ctx.emit(layer, IMAGE)


def _permute(ctx: CoreMLContext, source: Any) -> None:
    axes = [int(a) for a in source.permute.axis]
    if len(axes) != 4 or axes[0] != 0:
        raise UnmappableLayerError(f"permute {axes} moves the sequence axis")
    layer = _new(source, [ctx.as_image(source.input[0], source.name)])
    layer.transpose.perm[:] = axes  # [Seq, C, H, W] positions coincide with [batch, C, H, W]
    ctx.emit(layer, IMAGE)


def _joined_inputs(ctx: CoreMLContext, source: Any) -> tuple[list[str], int | None]:
    """All inputs in one form: images if any input is an image."""
    ranks = {ctx.ranks.get(name) for name in source.input}
    if IMAGE in ranks and VECTOR in ranks:
        names = [ctx.as_image(name, source.name, f"_{i}") for i, name in enumerate(source.input)]
        return names, IMAGE
    return list(source.input), ranks.pop() if len(ranks) == 1 else None


def _elementwise(kind: str) -> Callable[[CoreMLContext, Any], None]:
    def mapper(ctx: CoreMLContext, source: Any) -> None:
        alpha = float(getattr(source, kind).alpha)
        if len(source.input) == 1:  # Core ML adds (or multiplies by) the scalar alpha
            slope, offset = (1.0, alpha) if kind == "add" else (alpha, 0.0)
            _linear_like(ctx, source, source.input[0], Activation.LINEAR, alpha=slope, beta=offset)
            return
        if (kind == "add" and alpha != 0.0) or (kind == "multiply" and alpha not in (0.0, 1.0)):
            raise UnmappableLayerError(
                f"{kind} of several inputs with alpha {alpha:g} has no mlspec equivalent"
            )
        names, rank = _joined_inputs(ctx, source)
        layer = _new(source, names)
        getattr(layer, kind).SetInParent()
        ctx.emit(layer, rank)

    return mapper


def _concat(ctx: CoreMLContext, source: Any) -> None:
    if source.concat.sequenceConcat:
        raise UnmappableLayerError("concat along the sequence axis has no mlspec equivalent")
    names, rank = _joined_inputs(ctx, source)
    layer = _new(source, names)
    layer.concat.axis = 1
    ctx.emit(layer, rank)


def _copy(ctx: CoreMLContext, source: Any) -> None:
    _linear_like(ctx, source, source.input[0], Activation.LINEAR, alpha=1.0, beta=0.0)


def _embedding(ctx: CoreMLContext, source: Any) -> None:
    """Core ML looks up a float index [1, 1, 1]; mlspec an int64 id [batch, 1], then flattens."""
    params = source.embedding
    if params.hasBias and np.any(weight_array(params.bias, "bias")):
        raise UnmappableLayerError("embedding with a non-zero bias has no mlspec equivalent")
    if source.input[0] not in ctx.id_inputs:
        raise UnmappableLayerError(
            "embedding must read a model input holding the index (it becomes int64 ids)"
        )
    shape = (int(params.outputChannels), int(params.inputDim))
    values = weight_array(params.weights, "weights")
    if values.size != shape[0] * shape[1]:
        raise UnmappableLayerError(f"weights hold {values.size} values, expected {shape[0]} x {shape[1]}")
    lookup = _new(source, [source.input[0]])
    lookup.outputs[:] = [f"{source.name}/rows"]
    spec = lookup.embedding
    spec.vocab_size, spec.embedding_dim = shape[1], shape[0]
    set_tensor(
        spec.weights, values.reshape(shape).T, dtype=np.float32, is_updatable=bool(params.weights.isUpdatable)
    )
    ctx.emit(lookup, 3)
    flat = layers_pb2.Layer(name=f"{source.name}_flatten", inputs=lookup.outputs, outputs=list(source.output))
    flat.flatten.axis = 1
    ctx.emit(flat, VECTOR)


MAPPERS: dict[str, Callable[[CoreMLContext, Any], None]] = {
    "innerProduct": _inner_product,
    "convolution": _convolution,
    "batchnorm": _batchnorm,
    "pooling": _pooling,
    "activation": _activation,
    "softmax": _softmax,
    "flatten": _flatten,
    "reshape": _reshape,
    "permute": _permute,
    "concat": _concat,
    "add": _elementwise("add"),
    "multiply": _elementwise("multiply"),
    "copy": _copy,
    "embedding": _embedding,
}
