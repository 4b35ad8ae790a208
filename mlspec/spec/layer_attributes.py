"""Checks of a layer's own attributes, which need no knowledge of its inputs.

They run even when the input shapes are unknown (after an imported ONNX node without declared
output types, say), so a bad kernel or an unset activation type is reported in every spec.
Helpers that turn attributes into per-axis values live here too, so the shape rules read the
attributes through the same code that checked them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from mlspec._proto import layers_pb2
from mlspec.spec.errors import Problem


class ShapeError(Exception):
    """One misfit in one layer; `field` is appended to the layer's location, e.g. ".kernel_shape"."""

    def __init__(self, message: str, fix: str = "", field: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.fix = fix
        self.field = field


def positive(value: int, field: str, what: str) -> None:
    if value <= 0:
        name = field.lstrip(".")
        raise ShapeError(f"{name} is {value}; {what} must be > 0", f"set {name} to a positive size", field)


def kernel_sizes(kernel: Sequence[int]) -> tuple[int, ...]:
    """A 1-D or 2-D window; the rank of convolution and pooling follows from it."""
    if len(kernel) not in (1, 2):
        raise ShapeError(
            f"kernel_shape has {len(kernel)} entries; give 1 (1-D) or 2 (2-D)",
            "set kernel_shape to [k] or [kh, kw]",
            ".kernel_shape",
        )
    if any(k <= 0 for k in kernel):
        raise ShapeError(f"kernel_shape {list(kernel)} has a value <= 0", "use sizes >= 1", ".kernel_shape")
    return tuple(kernel)


def per_axis(values: Sequence[int], rank: int, field: str) -> tuple[int, ...]:
    """Strides or dilations: empty means 1 on every spatial axis."""
    if not values:
        return (1,) * rank
    if len(values) != rank:
        raise ShapeError(
            f"{field.lstrip('.')} has {len(values)} entries for {rank} spatial axes",
            f"give one value per spatial axis ({rank}) or none for 1",
            field,
        )
    if any(v <= 0 for v in values):
        raise ShapeError(f"{field.lstrip('.')} {list(values)} has a value <= 0", "use values >= 1", field)
    return tuple(values)


def pads(padding: layers_pb2.Padding, rank: int, field: str = ".padding") -> list[tuple[int, int]] | None:
    """(begin, end) per spatial axis, or None for same padding. No kind set means valid."""
    which = padding.WhichOneof("kind")
    if which == "same":
        return None
    if which != "explicit":
        return [(0, 0)] * rank
    values = list(padding.explicit.pads)
    if len(values) != 2 * rank:
        raise ShapeError(
            f"explicit pads has {len(values)} entries; {rank} spatial axes need {2 * rank} "
            "(all begins, then all ends)",
            f"give {2 * rank} pads",
            f"{field}.explicit.pads",
        )
    if any(p < 0 for p in values):
        message = f"explicit pads {values} has a negative value"
        raise ShapeError(message, "use pads >= 0", f"{field}.explicit.pads")
    return [(values[i], values[i + rank]) for i in range(rank)]


def _convolution(layer: layers_pb2.Layer) -> None:
    spec = layer.convolution
    rank = len(kernel_sizes(spec.kernel_shape))
    positive(spec.input_channels, ".input_channels", "the channel count")
    positive(spec.output_channels, ".output_channels", "the channel count")
    groups = spec.groups or 1
    if groups < 0 or spec.input_channels % groups or spec.output_channels % groups:
        raise ShapeError(
            f"groups {groups} must divide input_channels {spec.input_channels} "
            f"and output_channels {spec.output_channels}",
            "use a common divisor (input_channels for depthwise convolution)",
            ".groups",
        )
    per_axis(spec.strides, rank, ".strides")
    per_axis(spec.dilations, rank, ".dilations")
    pads(spec.padding, rank)


def _pooling(layer: layers_pb2.Layer) -> None:
    spec = layer.pooling
    if spec.type == layers_pb2.PoolingLayer.POOLING_TYPE_UNSPECIFIED:
        raise ShapeError("pooling type is unset", "set type to MAX or AVERAGE", ".type")
    if is_global(spec):
        return
    kernel = kernel_sizes(spec.kernel_shape)
    per_axis(spec.strides, len(kernel), ".strides")
    padding = pads(spec.padding, len(kernel))
    if padding is not None and any(max(p) >= k for p, k in zip(padding, kernel, strict=True)):
        raise ShapeError(
            f"explicit pads {list(spec.padding.explicit.pads)} must each be smaller "
            f"than the kernel {list(kernel)}",
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
    if layer.activation.type == layers_pb2.ActivationLayer.ACTIVATION_TYPE_UNSPECIFIED:
        kinds = layers_pb2.ActivationLayer.ActivationType.keys()
        names = ", ".join(n for n in kinds if "UNSPECIFIED" not in n)
        raise ShapeError("activation type is unset", f"set type to one of {names}", ".type")


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
