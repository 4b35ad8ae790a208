"""Checks of a layer's own attributes, which need no knowledge of its inputs.

They run even when the input shapes are unknown (after an imported ONNX node without declared
output types, say), so a bad kernel or an unset activation type is reported in every spec.
Convolution and pooling are checked on their decoded windows (mlspec.spec.windows), the same
values every other reader uses.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

from mlspec._proto import layers_pb2
from mlspec.spec.errors import Problem, ShapeError
from mlspec.spec.windows import Convolution, Pads, Window, pooling_window


def positive(value: int, field: str, what: str) -> None:
    if value <= 0:
        name = field.lstrip(".")
        raise ShapeError(f"{name} is {value}; {what} must be > 0", f"set {name} to a positive size", field)


def _kernel(window: Window) -> None:
    """A 1-D or 2-D window; the rank of convolution and pooling follows from it."""
    kernel = window.kernel
    if len(kernel) not in (1, 2):
        raise ShapeError(
            f"kernel_shape has {len(kernel)} entries; give 1 (1-D) or 2 (2-D)",
            "set kernel_shape to [k] or [kh, kw]",
            ".kernel_shape",
        )
    if any(k <= 0 for k in kernel):
        raise ShapeError(f"kernel_shape {list(kernel)} has a value <= 0", "use sizes >= 1", ".kernel_shape")


def _per_axis(values: Sequence[int], rank: int, field: str) -> None:
    """Strides or dilations as decoded (an empty list already read as 1 on every axis)."""
    if len(values) != rank:
        raise ShapeError(
            f"{field.lstrip('.')} has {len(values)} entries for {rank} spatial axes",
            f"give one value per spatial axis ({rank}) or none for 1",
            field,
        )
    if any(v <= 0 for v in values):
        raise ShapeError(f"{field.lstrip('.')} {list(values)} has a value <= 0", "use values >= 1", field)


def _pads(window: Window) -> Pads | None:
    pads = window.fixed_pads()
    if pads is not None and any(p < 0 for p in window.explicit):
        message = f"explicit pads {list(window.explicit)} has a negative value"
        raise ShapeError(message, "use pads >= 0", ".padding.explicit.pads")
    return pads


def _convolution(layer: layers_pb2.Layer) -> None:
    conv = Convolution.of(layer.convolution)
    _kernel(conv.window)
    positive(conv.input_channels, ".input_channels", "the channel count")
    positive(conv.output_channels, ".output_channels", "the channel count")
    groups = conv.groups
    if groups < 0 or conv.input_channels % groups or conv.output_channels % groups:
        raise ShapeError(
            f"groups {groups} must divide input_channels {conv.input_channels} "
            f"and output_channels {conv.output_channels}",
            "use a common divisor (input_channels for depthwise convolution)",
            ".groups",
        )
    _per_axis(conv.window.strides, conv.window.rank, ".strides")
    _per_axis(conv.window.dilations, conv.window.rank, ".dilations")
    _pads(conv.window)


def _pooling(layer: layers_pb2.Layer) -> None:
    spec = layer.pooling
    _named(spec.type, layers_pb2.PoolingLayer.PoolingType, "pooling")
    if is_global(spec):
        return
    window = pooling_window(spec)
    _kernel(window)
    _per_axis(window.strides, window.rank, ".strides")
    padding = _pads(window)
    if padding is not None and any(max(p) >= k for p, k in zip(padding, window.kernel, strict=True)):
        raise ShapeError(
            f"explicit pads {list(window.explicit)} must each be smaller "
            f"than the kernel {list(window.kernel)}",
            "reduce the padding or use same padding",
            ".padding.explicit.pads",
        )


def is_global(spec: layers_pb2.PoolingLayer) -> bool:
    return bool(getattr(spec, "global"))  # a Python keyword, so protobuf offers no attribute syntax


def _inner_product(layer: layers_pb2.Layer) -> None:
    positive(layer.inner_product.input_channels, ".input_channels", "the input size")
    positive(layer.inner_product.output_channels, ".output_channels", "the output size")


def _batch_norm(layer: layers_pb2.Layer) -> None:
    positive(layer.batch_norm.channels, ".channels", "the channel count")


def _activation(layer: layers_pb2.Layer) -> None:
    _named(layer.activation.type, layers_pb2.ActivationLayer.ActivationType, "activation")


def _named(value: int, kinds: EnumTypeWrapper, what: str) -> None:
    """An enum value convert knows: neither *_UNSPECIFIED nor a number no value names (proto3
    keeps unknown numbers, and the spec fuzzer found activation types 12..24 validating)."""
    known = kinds.DESCRIPTOR.values_by_number.get(value)
    if known is not None and not known.name.endswith("_UNSPECIFIED"):
        return
    names = [v.name for v in kinds.DESCRIPTOR.values if not v.name.endswith("_UNSPECIFIED")]
    state = "is unset" if known is not None else f"{value} is not one of the {what} types"
    raise ShapeError(f"{what} type {state}", f"set type to one of {', '.join(names)}", ".type")


def _reshape(layer: layers_pb2.Layer) -> None:
    target = list(layer.reshape.target_shape)
    if target.count(-1) > 1 or any(d == 0 or d < -1 for d in target):
        raise ShapeError(
            f"target_shape {target} may hold positive sizes and at most one -1",
            "list the per-example shape (without the batch), with -1 for one inferred size",
            ".target_shape",
        )


def _transpose(layer: layers_pb2.Layer) -> None:
    perm = list(layer.transpose.perm)
    if sorted(perm) != list(range(len(perm))):
        raise ShapeError(
            f"perm {perm} is not a permutation of 0..{len(perm) - 1}",
            "list each axis once (the batch axis included)",
            ".perm",
        )


def _layer_norm(layer: layers_pb2.Layer) -> None:
    normalized = list(layer.layer_norm.normalized_shape)
    if not normalized or any(d <= 0 for d in normalized):
        raise ShapeError(
            f"normalized_shape {normalized} must list one or more positive sizes",
            "set it to the trailing dims to normalise, e.g. [features]",
            ".normalized_shape",
        )


def _embedding(layer: layers_pb2.Layer) -> None:
    positive(layer.embedding.vocab_size, ".vocab_size", "the vocabulary size")
    positive(layer.embedding.embedding_dim, ".embedding_dim", "the embedding size")


def _onnx_node(layer: layers_pb2.Layer) -> None:
    declared = len(layer.onnx_node.output_types)
    if declared and declared != len(layer.outputs):
        raise ShapeError(
            f"{declared} output_types for {len(layer.outputs)} outputs",
            "declare one output type per output, or none",
            ".onnx_node.output_types",
        )


def _no_attributes(layer: layers_pb2.Layer) -> None:
    """The kind has no attribute that is wrong for every input; its shape rule judges the rest."""


_CHECKS: dict[str, Callable[[layers_pb2.Layer], None]] = {
    "inner_product": _inner_product,
    "convolution": _convolution,
    "batch_norm": _batch_norm,
    "pooling": _pooling,
    "activation": _activation,
    "softmax": _no_attributes,
    "flatten": _no_attributes,
    "reshape": _reshape,
    "transpose": _transpose,
    "concat": _no_attributes,
    "add": _no_attributes,
    "multiply": _no_attributes,
    "dropout": _no_attributes,
    "layer_norm": _layer_norm,
    "embedding": _embedding,
    "onnx_node": _onnx_node,
}


def check_attributes(layer: layers_pb2.Layer) -> None:
    """Raise ShapeError for the first attribute of the layer that cannot be right for any input."""
    kind = layer.WhichOneof("kind")
    if kind is not None:
        _CHECKS[kind](layer)


# Field, value, whether it is allowed, the rule, and the fix in words.
_Numeric = list[tuple[str, float, bool, str, str]]
_AT_LEAST_0 = ("must be >= 0", "use 0 or a positive value")


def _dropout_numbers(layer: layers_pb2.Layer) -> _Numeric:
    rate = layer.dropout.rate
    return [("rate", rate, 0 <= rate < 1, "must lie in [0, 1)", "use a rate from 0 up to (not including) 1")]


def _batch_norm_numbers(layer: layers_pb2.Layer) -> _Numeric:
    bn = layer.batch_norm
    return [
        ("epsilon", bn.epsilon, bn.epsilon >= 0, *_AT_LEAST_0),
        ("momentum", bn.momentum, 0 <= bn.momentum <= 1, "must lie in [0, 1]", "use a momentum from 0 to 1"),
    ]


def _layer_norm_numbers(layer: layers_pb2.Layer) -> _Numeric:
    eps = layer.layer_norm.epsilon
    return [("epsilon", eps, eps >= 0, *_AT_LEAST_0)]


def _no_numbers(layer: layers_pb2.Layer) -> _Numeric:
    return []


# Numeric attributes that do not affect shapes, so the shape rules leave them alone.
NUMERIC_ATTRIBUTES: dict[str, Callable[[layers_pb2.Layer], _Numeric]] = {
    "inner_product": _no_numbers,
    "convolution": _no_numbers,
    "batch_norm": _batch_norm_numbers,
    "pooling": _no_numbers,
    "activation": _no_numbers,
    "softmax": _no_numbers,
    "flatten": _no_numbers,
    "reshape": _no_numbers,
    "transpose": _no_numbers,
    "concat": _no_numbers,
    "add": _no_numbers,
    "multiply": _no_numbers,
    "dropout": _dropout_numbers,
    "layer_norm": _layer_norm_numbers,
    "embedding": _no_numbers,
    "onnx_node": _no_numbers,
}


def attribute_problems(layer: layers_pb2.Layer, where: str) -> list[Problem]:
    """Out-of-range numeric attributes; the builder refuses a layer with the same words."""
    kind = layer.WhichOneof("kind")
    checks = NUMERIC_ATTRIBUTES[kind](layer) if kind else []
    return [
        Problem(f"{where}.{field}", f"{field} {value:g} {rule}", fix)
        for field, value, ok, rule, fix in checks
        if not ok
    ]
