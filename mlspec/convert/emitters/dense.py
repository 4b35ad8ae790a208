"""Emitters for the kinds that hold a weight matrix: inner product (a product) and embedding (a lookup)."""

from __future__ import annotations

from mlspec._proto import layers_pb2
from mlspec.convert.emitters.context import EmitContext, Emitter


def emit_inner_product(ctx: EmitContext, layer: layers_pb2.Layer) -> None:
    """Gemm for 2-D inputs (one fused op, fastest in ORT); MatMul on W^T for higher ranks.

    The weights initializer keeps the spec's [out, in] layout either way, so checkpoint values can
    be written back to the spec without transposing.
    """
    params = layer.inner_product
    source, target = layer.inputs[0], layer.outputs[0]
    weights = ctx.weight(layer, "weights")
    bias = [ctx.weight(layer, "bias")] if params.has_bias else []
    dims = ctx.dims(source)
    if dims is not None and len(dims) == 2:
        ctx.node(layer, "Gemm", [source, weights, *bias], [target], transB=1)
        return
    transposed = ctx.tensor(layer, "weights_t")
    ctx.node(layer, "Transpose", [weights], [transposed], step="transpose_weights", perm=[1, 0])
    if not bias:
        ctx.node(layer, "MatMul", [source, transposed], [target])
        return
    product = ctx.tensor(layer, "matmul")
    ctx.node(layer, "MatMul", [source, transposed], [product], step="matmul")
    ctx.node(layer, "Add", [product, *bias], [target], step="bias")


def emit_embedding(ctx: EmitContext, layer: layers_pb2.Layer) -> None:
    """Rows of the weight table gathered by integer index."""
    ctx.node(layer, "Gather", [ctx.weight(layer, "weights"), layer.inputs[0]], [layer.outputs[0]], axis=0)


EMITTERS: dict[str, Emitter] = {"inner_product": emit_inner_product, "embedding": emit_embedding}
