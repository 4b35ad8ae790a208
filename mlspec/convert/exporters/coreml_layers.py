"""mlspec layers -> Core ML NeuralNetwork layers: the inverse of importers/coreml_layers.

Core ML's classic layers see every tensor as rank 5, [Seq, Batch, C, H, W]. An mlspec tensor of
rank 2 ([batch, C]) is Core ML's [C, 1, 1] and one of rank 4 ([batch, C, H, W]) is [C, H, W];
other ranks (1-D convolutions, sequences) have no classic Core ML form and are refused. Weights
keep their layouts: dense [out, in] and convolution [out, in / groups, kH, kW] are Core ML's own.

Every kind in the catalogue has an entry in WRITERS: a writer, or the reason Core ML cannot hold
it, so a new kind is a decision here rather than a KeyError.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mlspec._proto import layers_pb2
from mlspec.spec.errors import layer_ref
from mlspec.spec.tensor_info import TensorInfo
from mlspec.spec.weights import to_float32
from mlspec.spec.windows import Convolution, pooling_window

Activation = layers_pb2.ActivationLayer
# The activations import-coreml reads back, by mlspec type: (Core ML field, its (alpha, beta) fields).
_ACTIVATIONS: dict[int, tuple[str, tuple[str, ...]]] = {
    Activation.RELU: ("ReLU", ()),
    Activation.LEAKY_RELU: ("leakyReLU", ("alpha",)),
    Activation.SIGMOID: ("sigmoid", ()),
    Activation.TANH: ("tanh", ()),
    Activation.LINEAR: ("linear", ("alpha", "beta")),
    Activation.ELU: ("ELU", ("alpha",)),
    Activation.SOFTPLUS: ("softplus", ()),
    Activation.HARD_SIGMOID: ("sigmoidHard", ("alpha", "beta")),
}


class NotExpressibleError(Exception):
    """This layer has no Core ML NeuralNetwork form; the text says why (the caller adds where)."""


@dataclass(frozen=True)
class LayerContext:
    """What a writer needs beyond the layer: the inferred type of every tensor."""

    tensors: Mapping[str, TensorInfo]

    def rank(self, name: str) -> int | None:
        info = self.tensors.get(name)
        return None if info is None else info.rank

    def require_rank(self, layer: layers_pb2.Layer, allowed: tuple[int, ...]) -> None:
        for name in layer.inputs:
            rank = self.rank(name)
            if rank not in allowed:
                forms = " or ".join({2: "[batch, C]", 4: "[batch, C, H, W]"}[r] for r in allowed)
                raise NotExpressibleError(f'input "{name}" has rank {rank}; Core ML takes {forms} here')


def _weights(target: Any, tensor: Any, where: str) -> None:
    target.floatValue.extend(to_float32(tensor, where).ravel().tolist())
    target.isUpdatable = bool(tensor.is_updatable)


def _new(coreml_layer: Any, layer: layers_pb2.Layer) -> Any:
    coreml_layer.name = layer.name
    coreml_layer.input.extend(layer.inputs)
    coreml_layer.output.extend(layer.outputs)
    coreml_layer.isUpdatable = bool(layer.is_updatable)
    return coreml_layer


def _inner_product(ctx: LayerContext, layer: layers_pb2.Layer, out: Any) -> None:
    ctx.require_rank(layer, (2,))
    spec, params = layer.inner_product, out.innerProduct
    params.inputChannels, params.outputChannels = spec.input_channels, spec.output_channels
    params.hasBias = spec.has_bias
    _weights(params.weights, spec.weights, f"{layer_ref(layer.name)}.weights")
    if spec.has_bias:
        _weights(params.bias, spec.bias, f"{layer_ref(layer.name)}.bias")


def _padding(padding: layers_pb2.Padding, params: Any) -> None:
    which = padding.WhichOneof("kind")
    if which == "same":
        params.same.asymmetryMode = 1 if padding.same.lower else 0  # TOP_LEFT_HEAVY : BOTTOM_RIGHT_HEAVY
        return
    amounts = params.valid.paddingAmounts
    pads = list(padding.explicit.pads) if which == "explicit" else [0, 0, 0, 0]
    for start, end in zip(pads[:2], pads[2:], strict=True):
        amounts.borderAmounts.add(startEdgeSize=start, endEdgeSize=end)


def _convolution(ctx: LayerContext, layer: layers_pb2.Layer, out: Any) -> None:
    ctx.require_rank(layer, (4,))
    spec, params = layer.convolution, out.convolution
    conv = Convolution.of(spec)
    params.outputChannels = conv.output_channels
    params.kernelChannels = conv.input_channels // conv.groups
    params.nGroups = conv.groups
    params.kernelSize.extend(conv.window.kernel)
    params.stride.extend(conv.window.strides)
    params.dilationFactor.extend(conv.window.dilations)
    _padding(spec.padding, params)
    params.hasBias = spec.has_bias
    _weights(params.weights, spec.weights, f"{layer_ref(layer.name)}.weights")
    if spec.has_bias:
        _weights(params.bias, spec.bias, f"{layer_ref(layer.name)}.bias")


def _batch_norm(ctx: LayerContext, layer: layers_pb2.Layer, out: Any) -> None:
    ctx.require_rank(layer, (2, 4))
    spec, params = layer.batch_norm, out.batchnorm
    params.channels = spec.channels
    params.epsilon = spec.epsilon
    pairs = (("gamma", "gamma"), ("beta", "beta"), ("running_mean", "mean"), ("running_variance", "variance"))
    for ours, theirs in pairs:
        _weights(getattr(params, theirs), getattr(spec, ours), f"{layer_ref(layer.name)}.{ours}")


def _pooling(ctx: LayerContext, layer: layers_pb2.Layer, out: Any) -> None:
    ctx.require_rank(layer, (4,))
    spec, params = layer.pooling, out.pooling
    params.type = 0 if spec.type == layers_pb2.PoolingLayer.MAX else 1  # MAX : AVERAGE
    if getattr(spec, "global"):  # "global" is a Python keyword
        params.globalPooling = True
        return
    window = pooling_window(spec)
    params.kernelSize.extend(window.kernel)
    params.stride.extend(window.strides)
    _padding(spec.padding, params)
    params.avgPoolExcludePadding = not spec.count_include_pad


def _activation(ctx: LayerContext, layer: layers_pb2.Layer, out: Any) -> None:
    spec = layer.activation
    if spec.type not in _ACTIVATIONS:
        written = ", ".join(Activation.ActivationType.Name(t).lower() for t in _ACTIVATIONS)
        name = Activation.ActivationType.Name(spec.type).lower()
        raise NotExpressibleError(f"activation {name} is not written to Core ML; written: {written}")
    field, parameters = _ACTIVATIONS[spec.type]
    body = getattr(out.activation, field)
    body.SetInParent()
    for parameter, value in zip(parameters, (spec.alpha, spec.beta), strict=False):
        setattr(body, parameter, value)


def _softmax(ctx: LayerContext, layer: layers_pb2.Layer, out: Any) -> None:
    ctx.require_rank(layer, (2, 4))
    axis, rank = layer.softmax.axis, ctx.rank(layer.inputs[0])
    if axis == 0:  # unset: the last axis (SoftmaxLayer's default), as import-onnx writes it
        axis = -1
    if axis != 1 and not (axis == -1 and rank == 2):
        raise NotExpressibleError(f"softmax over axis {axis}; Core ML's softmax runs over the channel axis 1")
    out.softmax.SetInParent()


def _flatten(ctx: LayerContext, layer: layers_pb2.Layer, out: Any) -> None:
    ctx.require_rank(layer, (2, 4))
    if layer.flatten.axis != 1:
        raise NotExpressibleError(f"flatten from axis {layer.flatten.axis}; Core ML flattens from axis 1")
    out.flatten.mode = 0  # CHANNEL_FIRST


def _reshape(ctx: LayerContext, layer: layers_pb2.Layer, out: Any) -> None:
    target = list(layer.reshape.target_shape)
    if len(target) != 3 or min(target) <= 0:
        raise NotExpressibleError(f"reshape to {target}; Core ML reshapes to a fixed [C, H, W]")
    out.reshape.targetShape.extend(target)
    out.reshape.mode = 0  # CHANNEL_FIRST


def _transpose(ctx: LayerContext, layer: layers_pb2.Layer, out: Any) -> None:
    ctx.require_rank(layer, (4,))
    perm = list(layer.transpose.perm)
    if len(perm) != 4 or perm[0] != 0:
        raise NotExpressibleError(f"transpose {perm} moves the batch axis")
    out.permute.axis.extend(perm)  # [Seq, C, H, W] positions coincide with [batch, C, H, W]


def _same_ranks(ctx: LayerContext, layer: layers_pb2.Layer) -> None:
    ctx.require_rank(layer, (2, 4))
    ranks = {ctx.rank(name) for name in layer.inputs}
    if len(ranks) > 1:
        raise NotExpressibleError("inputs of different ranks; reshape them to one form first")


def _concat(ctx: LayerContext, layer: layers_pb2.Layer, out: Any) -> None:
    _same_ranks(ctx, layer)
    if layer.concat.axis != 1:
        axis = layer.concat.axis
        raise NotExpressibleError(f"concat along axis {axis}; Core ML concatenates channels (axis 1)")
    out.concat.SetInParent()


def _joined(field: str) -> Callable[[LayerContext, layers_pb2.Layer, Any], None]:
    def writer(ctx: LayerContext, layer: layers_pb2.Layer, out: Any) -> None:
        _same_ranks(ctx, layer)
        getattr(out, field).SetInParent()

    return writer


def _refused(reason: str) -> Callable[[LayerContext, layers_pb2.Layer, Any], None]:
    def writer(ctx: LayerContext, layer: layers_pb2.Layer, out: Any) -> None:
        raise NotExpressibleError(reason)

    return writer


WRITERS: dict[str, Callable[[LayerContext, layers_pb2.Layer, Any], None]] = {
    "inner_product": _inner_product,
    "convolution": _convolution,
    "batch_norm": _batch_norm,
    "pooling": _pooling,
    "activation": _activation,
    "softmax": _softmax,
    "flatten": _flatten,
    "reshape": _reshape,
    "transpose": _transpose,
    "concat": _concat,
    "add": _joined("add"),
    "multiply": _joined("multiply"),
    "dropout": _refused("Core ML's NeuralNetwork has no dropout layer; remove it (mlspec remove-layer)"),
    "layer_norm": _refused("layer norm needs Core ML specification 5 (iOS 14); mlspec writes version 4"),
    "embedding": _refused("embedding is not written to Core ML yet; Core ML cannot train it either"),
    "onnx_node": _refused("a generic ONNX node has no Core ML equivalent"),
}


def write_layer(ctx: LayerContext, layer: layers_pb2.Layer, out: Any) -> None:
    """Fill `out` (a Core ML NeuralNetworkLayer) from `layer`; raise NotExpressibleError if impossible."""
    kind = layer.WhichOneof("kind") or ""
    _new(out, layer)
    WRITERS[kind](ctx, layer, out)


def backprop_supported(layer: Any) -> bool:
    """Core ML's own list of layers gradients pass through (NeuralNetworkValidatorGraph)."""
    kind = layer.WhichOneof("layer")
    if kind in ("convolution", "innerProduct", "flatten", "pooling", "batchnorm"):
        return True
    return kind == "activation" and layer.activation.WhichOneof("NonlinearityType") in (
        "ReLU",
        "sigmoid",
        "tanh",
    )
