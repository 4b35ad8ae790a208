"""What a gradient rule sees: the forward node, the gradients of its outputs, and a node writer.

A rule is a function `rule(g, node, grads, needed) -> list[str | None]`: `grads[i]` is the name
of the loss gradient of `node.output[i]` (None when no gradient reaches that output), `needed[i]`
says whether input i needs a gradient, and the result holds one gradient name (or None) per
input. Rules only append nodes through GradContext, so every backward tensor gets a fresh name
under the "grad/" prefix and every constant gets the element type of the tensor it meets.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

Dims = list[int | str | None]
Rule = Callable[["GradContext", onnx.NodeProto, list[str | None], list[bool]], list[str | None]]

_NUMPY_TYPES: dict[int, type] = {
    onnx.TensorProto.FLOAT: np.float32,
    onnx.TensorProto.DOUBLE: np.float64,
    onnx.TensorProto.FLOAT16: np.float16,
    onnx.TensorProto.INT64: np.int64,
    onnx.TensorProto.INT32: np.int32,
}
FLOAT_TYPES = frozenset({onnx.TensorProto.FLOAT, onnx.TensorProto.DOUBLE, onnx.TensorProto.FLOAT16})


class GradContext:
    """Appends backward nodes and answers questions about forward tensors' types and shapes."""

    def __init__(self, types: dict[str, onnx.TypeProto], known_constants: dict[str, np.ndarray]) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self._types = types
        self._constants = known_constants
        self._count = 0

    # -- what the forward graph holds ---------------------------------------------------------
    def dtype(self, name: str) -> int:
        """The ONNX element type of a forward or backward tensor (inferred before the pass)."""
        tensor_type = self._types.get(name)
        if tensor_type is None or not tensor_type.HasField("tensor_type"):
            return onnx.TensorProto.UNDEFINED
        return int(tensor_type.tensor_type.elem_type)

    def dims(self, name: str) -> Dims | None:
        """Static dims (int), symbolic dims (str) or unknown dims (None); None for unknown rank."""
        tensor_type = self._types.get(name)
        if tensor_type is None or not tensor_type.tensor_type.HasField("shape"):
            return None
        dims: Dims = []
        for dim in tensor_type.tensor_type.shape.dim:
            which = dim.WhichOneof("value")
            dims.append(dim.dim_value if which == "dim_value" else dim.dim_param if which else None)
        return dims

    def rank(self, name: str) -> int:
        """The rank of a tensor the rule cannot work without; raises for an unknown rank."""
        dims = self.dims(name)
        if dims is None:
            raise ValueError(f"tensor {name!r} has no inferred rank")
        return len(dims)

    def constant_value(self, name: str) -> np.ndarray | None:
        """The value of an initializer or Constant output (shape and axes inputs), else None."""
        return self._constants.get(name)

    # -- writing backward nodes -----------------------------------------------------------------
    def fresh(self, hint: str) -> str:
        self._count += 1
        return f"grad/{hint}_{self._count}"

    def op(
        self, op_type: str, inputs: Sequence[str], hint: str, *, like: str | None = None, **attrs: Any
    ) -> str:
        """Append one node with one output and return that output's name.

        `like` names a tensor of the same element type, recorded so later rules can ask for
        the dtype of this backward tensor too.
        """
        (output,) = self.op_multi(op_type, inputs, hint, 1, **attrs)
        if like is not None and like in self._types:
            self._types[output] = self._types[like]
        return output

    def op_multi(
        self, op_type: str, inputs: Sequence[str], hint: str, outputs: int, **attrs: Any
    ) -> list[str]:
        names = [self.fresh(hint) for _ in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), names, name=names[0], **attrs))
        return names

    def const(self, value: Any, like: str) -> str:
        """A Constant node holding `value` in the element type of tensor `like`."""
        return self.const_typed(np.asarray(value, dtype=_NUMPY_TYPES[self.dtype(like)]))

    def ints(self, values: Sequence[int]) -> str:
        """A 1-D int64 Constant (axes, shapes, slice bounds)."""
        return self.const_typed(np.asarray(list(values), dtype=np.int64))

    def const_typed(self, array: np.ndarray) -> str:
        output = self.fresh("const")
        self.nodes.append(
            helper.make_node("Constant", [], [output], name=output, value=numpy_helper.from_array(array))
        )
        self._types[output] = helper.make_tensor_type_proto(
            helper.np_dtype_to_tensor_dtype(array.dtype), list(array.shape)
        )
        return output

    # -- shared gradient idioms -----------------------------------------------------------------
    def shape(self, name: str) -> str:
        return self.op("Shape", [name], "shape")

    def scale(self, tensor: str, factor: float, like: str) -> str:
        """tensor * factor, skipping the Mul when the factor is 1."""
        if factor == 1.0:
            return tensor
        return self.op("Mul", [tensor, self.const(factor, like)], "scaled", like=like)

    @staticmethod
    def _broadcast_axes(target_dims: Dims, out_dims: Dims, offset: int) -> list[int]:
        """Axes (plus `offset`) where a size-1 target dim was broadcast to a larger output dim."""
        return [
            axis + offset
            for axis, (t, o) in enumerate(zip(target_dims, out_dims, strict=True))
            if t == 1 and o != 1
        ]

    def reduce_to(self, grad: str, out_dims: Dims | None, target: str) -> str:
        """Sum a gradient of dims `out_dims` back to the shape of `target` (broadcast inverse).

        Static where the shapes say which axes broadcast; otherwise the axes are computed at run
        time from the two shapes (ReduceSum with noop_with_empty_axes, so equal shapes cost one
        no-op reduction).
        """
        target_dims = self.dims(target)
        if out_dims is not None and target_dims is not None and out_dims == target_dims:
            return grad
        if out_dims is None or target_dims is None:
            raise ValueError(
                f"a broadcast gradient needs the rank of {target!r} and of its consumer's output"
            )
        leading = len(out_dims) - len(target_dims)
        if leading > 0 and all(isinstance(d, int) for d in target_dims):
            # One reduction over the leading and the broadcast axes, then a free Reshape.
            axes = [*range(leading), *self._broadcast_axes(target_dims, out_dims[leading:], leading)]
            summed = self.op("ReduceSum", [grad, self.ints(axes)], "sum_broadcast", like=target, keepdims=1)
            shape = self.ints([int(d) for d in target_dims if d is not None])
            return self.op("Reshape", [summed, shape], "reshape_sum", like=target)
        if leading > 0:
            grad = self.op(
                "ReduceSum", [grad, self.ints(range(leading))], "sum_leading", like=target, keepdims=0
            )
        known = all(isinstance(d, int) for d in target_dims)
        if known:
            axes = self._broadcast_axes(target_dims, out_dims[leading:], 0)
            if axes:
                grad = self.op("ReduceSum", [grad, self.ints(axes)], "sum_broadcast", like=target, keepdims=1)
            return grad
        paired = [(t, o) for t, o in zip(target_dims, out_dims[leading:], strict=True)]
        if all(t == o and t is not None for t, o in paired):
            return grad
        # Axes where the target has size 1 at run time: NonZero(Equal(Shape(target), 1)).
        ones = self.op("Equal", [self.shape(target), self.ints([1])], "is_one")
        runtime_axes = self.op("Reshape", [self.op("NonZero", [ones], "axes"), self.ints([-1])], "axes_flat")
        return self.op(
            "ReduceSum",
            [grad, runtime_axes],
            "sum_broadcast",
            like=target,
            keepdims=1,
            noop_with_empty_axes=1,
        )


def attribute(node: onnx.NodeProto, name: str, default: Any) -> Any:
    """The value of a node attribute, or `default` when the node does not set it."""
    for attr in node.attribute:
        if attr.name == name:
            value = helper.get_attribute_value(attr)
            return value.decode() if isinstance(value, bytes) else value
    return default


def present(node: onnx.NodeProto, index: int) -> bool:
    """Whether optional input `index` is given (ONNX marks an omitted optional input by '')."""
    return len(node.input) > index and node.input[index] != ""
