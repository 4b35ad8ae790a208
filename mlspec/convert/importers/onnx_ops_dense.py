"""Mappers for ops that hold weight matrices: Gemm, MatMul(+Add), and Gather on a weight table
(embedding).

Weights become float32 whatever the initializer stored (float16 and double are upcast): typed
layers are what training updates, and training runs in float32.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import onnx

from mlspec._proto import layers_pb2
from mlspec.convert.importers.onnx_context import Mapper, NodeContext
from mlspec.spec.weights import set_tensor

FloatArray = npt.NDArray[np.float32]


def dense_layer(
    ctx: NodeContext, source: str, weights: FloatArray, bias: FloatArray | None, output: str
) -> layers_pb2.Layer:
    """An inner_product layer from weights already laid out [output_channels, input_channels]."""
    layer = ctx.layer(inputs=[source], outputs=[output])
    spec = layer.inner_product
    spec.output_channels, spec.input_channels = (int(d) for d in weights.shape)
    spec.has_bias = bias is not None
    set_tensor(spec.weights, weights, dtype=np.float32)
    if bias is not None:
        set_tensor(spec.bias, bias, dtype=np.float32)
    return layer


def _column_bias(value: FloatArray, columns: int, max_rank: int) -> FloatArray | None:
    """A bias operand that adds the same vector to every row, as a [columns] vector, else None."""
    if value.size == 1:
        return np.full(columns, value.reshape(-1)[0], dtype=np.float32)
    if value.ndim > max_rank or value.shape[-1] != columns or value.size != columns:
        return None
    return value.reshape(columns)


def _gemm(ctx: NodeContext) -> list[layers_pb2.Layer] | None:
    matrix = ctx.weight(1)
    if not ctx.is_activation(0) or matrix is None or matrix.ndim != 2:
        return None
    alpha = float(ctx.attr("alpha", 1.0))
    beta = float(ctx.attr("beta", 1.0))
    weights = (matrix if ctx.attr("transB", 0) else matrix.T) * np.float32(alpha)
    bias = None
    if ctx.input(2):
        offset = ctx.weight(2)
        bias = None if offset is None else _column_bias(offset, weights.shape[0], 2)
        if bias is None:
            return None
        bias = bias * np.float32(beta)
    layers: list[layers_pb2.Layer] = []
    source = ctx.input(0)
    if ctx.attr("transA", 0):
        # A arrives [K, M]; transposing it first gives the [M, K] rows the dense layer expects.
        transposed = f"{ctx.node.output[0]}/transposed_input"
        flip = ctx.layer(inputs=[source], outputs=[transposed], suffix="transpose")
        flip.transpose.perm[:] = [1, 0]
        layers.append(flip)
        source = transposed
    layers.append(dense_layer(ctx, source, weights, bias, ctx.node.output[0]))
    return layers


def _matmul(ctx: NodeContext) -> list[layers_pb2.Layer] | None:
    """MatMul by a weight matrix, absorbing the bias Add that exporters write right after it."""
    matrix = ctx.weight(1)
    if not ctx.is_activation(0) or matrix is None or matrix.ndim != 2:
        return None
    weights = np.ascontiguousarray(matrix.T)
    output = ctx.node.output[0]
    bias = None
    follower = ctx.sole_consumer(output)
    if follower is not None and follower.op_type == "Add" and follower.domain in ("", "ai.onnx"):
        other = follower.input[1] if follower.input[0] == output else follower.input[0]
        value = ctx.graph.constants.get(other)
        rank = ctx.rank(0) or 2
        if value is not None and value.dtype.kind == "f":
            bias = _column_bias(value.astype(np.float32), weights.shape[0], rank)
        if bias is not None:
            ctx.absorb(follower)
            output = follower.output[0]
    return [dense_layer(ctx, ctx.input(0), weights, bias, output)]


def _gather(ctx: NodeContext) -> list[layers_pb2.Layer] | None:
    """Gather rows of a weight table by integer ids: how exporters write an embedding lookup."""
    table = ctx.weight(0)
    index_type = ctx.graph.elem_type(ctx.input(1))
    integer_ids = index_type in (onnx.TensorProto.INT64, onnx.TensorProto.INT32)
    if table is None or table.ndim != 2 or ctx.attr("axis", 0) != 0 or not ctx.is_activation(1):
        return None
    if not integer_ids:
        return None
    layer = ctx.layer(inputs=[ctx.input(1)])
    spec = layer.embedding
    spec.vocab_size, spec.embedding_dim = (int(d) for d in table.shape)
    set_tensor(spec.weights, table, dtype=np.float32)
    return [layer]


MAPPERS: dict[str, Mapper] = {
    "Gemm": _gemm,
    "MatMul": _matmul,
    "Gather": _gather,
}
