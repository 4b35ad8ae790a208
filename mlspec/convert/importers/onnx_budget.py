"""How big a folded constant will be, known before it is computed.

Constant folding runs onnx's reference evaluator on nodes whose inputs are known. A 200-byte
file can ask it for ConstantOfShape([40000, 40000]) or Range(0, 1e9, 1), gigabytes built from
nothing. So before a node is evaluated its output size is predicted from the values and shapes
of its inputs, and a node that would grow past FOLD_BUDGET elements is refused with the limit in
the message. Ops whose outputs are never larger than their inputs (casts, transposes, slices,
reductions, ...) need no prediction: their inputs are initializers the file holds or constants
already within budget. A node whose size cannot be predicted is not folded; it stays in the graph.
"""

from __future__ import annotations

import math

import numpy as np

FOLD_BUDGET = 1 << 26
"""Most elements one folded constant may have (256 MB of float32)."""

# Outputs no larger than (a small multiple of) the inputs.
_NOT_GROWING = frozenset(
    {
        "Abs", "Acos", "BatchNormalization", "Dropout", "InstanceNormalization", "LayerNormalization",
        "Acosh", "ArgMax", "ArgMin", "Asin", "Asinh", "Atan", "Atanh", "Cast", "CastLike",
        "Ceil", "Celu", "Clip", "Compress", "Concat", "Constant", "Cos", "Cosh", "CumSum",
        "DepthToSpace", "DequantizeLinear", "Elu", "Erf", "Exp", "EyeLike", "Flatten", "Floor",
        "Gelu", "GatherElements", "HardSigmoid", "HardSwish", "Hardmax", "Identity", "IsInf", "IsNaN",
        "LeakyRelu", "Log", "LogSoftmax", "Mish", "Neg", "NonZero", "Not", "QuantizeLinear",
        "Reciprocal", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax",
        "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSum", "ReduceSumSquare", "Relu", "Reshape",
        "ReverseSequence", "Round", "ScatterElements", "ScatterND", "Selu", "Shape", "Shrink",
        "Sigmoid", "Sign", "Sin", "Sinh", "Size", "Slice", "Softmax", "Softplus", "Softsign",
        "SpaceToDepth", "Split", "Sqrt", "Squeeze", "Tan", "Tanh", "ThresholdedRelu", "TopK",
        "Transpose", "Trilu", "Unique", "Unsqueeze",
    }
)  # fmt: skip
_BROADCASTING = frozenset(
    {
        "Add", "And", "BitShift", "BitwiseAnd", "BitwiseOr", "BitwiseXor", "Div", "Equal", "Greater",
        "GreaterOrEqual", "Less", "LessOrEqual", "Max", "Mean", "Min", "Mod", "Mul", "Or", "Pow",
        "PRelu", "Sub", "Sum", "Where", "Xor",
    }
)  # fmt: skip


SLOW_FOLD_ELEMENTS = 1 << 16
"""Most input elements folded through an op whose reference implementation loops in Python."""
FOLD_WORK = 1 << 32
"""Most multiply-adds one folded MatMul or Gemm may take (seconds, not hours)."""

# Reference implementations with Python loops over elements; other ops fold through numpy.
_VECTORISED = (_NOT_GROWING | _BROADCASTING) - {
    "ScatterND", "ScatterElements", "GatherElements", "Unique", "ReverseSequence", "CumSum", "NonZero",
    "Compress",
} | {"ConstantOfShape", "Range", "Expand", "Tile", "Pad", "OneHot", "Gather", "MatMul", "Gemm"}  # fmt: skip


def affordable(op_type: str, values: list[np.ndarray | None]) -> bool:
    """Whether evaluating the node takes bounded time; a node that would not stays unfolded.

    Sizes bound memory, not time: a ScatterND over a million-element constant loops a million
    times in Python, and a MatMul of two file-sized matrices takes minutes in numpy.
    """
    present = [v for v in values if v is not None]
    if op_type in ("MatMul", "Gemm") and len(present) >= 2:
        first, second = present[0], present[1]
        columns = (
            max(second.shape, default=1)
            if op_type == "Gemm"
            else (second.shape[-1] if second.ndim > 1 else 1)
        )
        rows = (
            max(first.shape, default=1) if op_type == "Gemm" else (first.shape[-2] if first.ndim > 1 else 1)
        )
        return max(first.size * columns, second.size * rows) <= FOLD_WORK
    return op_type in _VECTORISED or sum(v.size for v in present) <= SLOW_FOLD_ELEMENTS


class FoldTooBigError(Exception):
    """A predicted size beyond FOLD_BUDGET; the caller words the error."""

    def __init__(self, elements: int) -> None:
        super().__init__(elements)
        self.elements = elements


def predicted_elements(op_type: str, values: list[np.ndarray | None], attrs: dict[str, object]) -> int | None:
    """Elements of the largest output, None when unknown; raises FoldTooBigError beyond the budget.

    `values` are the node's inputs in order (None for an omitted optional input).
    """
    if op_type in _NOT_GROWING:
        return 0
    present = [v for v in values if v is not None]
    try:
        size = _grown(op_type, values, present, attrs)
    except (ValueError, TypeError, IndexError, OverflowError):
        return None  # inputs the op would reject anyway: leave the node unfolded
    if size is not None and size > FOLD_BUDGET:
        raise FoldTooBigError(size)
    return size


def _grown(
    op_type: str, values: list[np.ndarray | None], present: list[np.ndarray], attrs: dict[str, object]
) -> int | None:
    if op_type in _BROADCASTING:
        return _count(_broadcast([v.shape for v in present]))
    first = values[0] if values else None
    second = values[1] if len(values) > 1 else None
    if op_type == "ConstantOfShape" and first is not None:
        return _count(_ints(first))
    if op_type == "Range" and len(present) == 3:
        start, limit, delta = (float(v.reshape(-1)[0]) for v in present)
        steps = (limit - start) / delta if delta else math.inf
        return max(0, math.ceil(steps)) if math.isfinite(steps) else None
    if op_type == "Expand" and first is not None and second is not None:
        return _count(_broadcast([first.shape, tuple(_ints(second))]))
    if op_type == "Tile" and first is not None and second is not None:
        return first.size * _count(_ints(second))
    if op_type == "Pad" and first is not None and second is not None:
        pads = _ints(second)
        rank = first.ndim
        if len(pads) != 2 * rank:
            return None
        return _count([dim + pads[axis] + pads[axis + rank] for axis, dim in enumerate(first.shape)])
    if op_type == "OneHot" and first is not None and second is not None:
        return first.size * _count(_ints(second))
    if op_type == "Gather" and first is not None and second is not None and first.ndim:
        axis = int(attrs.get("axis", 0)) % first.ndim  # type: ignore[call-overload]
        return int(first.size // max(1, first.shape[axis]) * second.size)
    if op_type in ("MatMul", "Gemm") and first is not None and second is not None:
        rows = first.shape[-2] if first.ndim > 1 else 1
        columns = second.shape[-1] if second.ndim > 1 else 1
        if op_type == "Gemm":  # 2-D, maybe transposed: bound by the larger dim of each
            rows, columns = max(first.shape, default=1), max(second.shape, default=1)
        return _count(_broadcast([first.shape[:-2], second.shape[:-2]])) * rows * columns
    return None


def _ints(value: np.ndarray) -> list[int]:
    if value.dtype.kind not in "iu":
        raise TypeError("not integers")
    dims = [int(v) for v in value.reshape(-1)]
    if any(d < 0 for d in dims):
        raise ValueError("negative")
    return dims


def _broadcast(shapes: list[tuple[int, ...]]) -> tuple[int, ...]:
    rank = max((len(shape) for shape in shapes), default=0)
    result = [1] * rank
    for shape in shapes:
        for axis, dim in enumerate(shape, start=rank - len(shape)):
            if dim != 1:
                if result[axis] not in (1, dim):
                    raise ValueError("not broadcastable")
                result[axis] = dim
    return tuple(result)


def _count(dims: list[int] | tuple[int, ...]) -> int:
    total = 1
    for dim in dims:
        total *= dim
        if total > FOLD_BUDGET * 1024:
            return total  # enough to refuse; no need to multiply further
    return total
