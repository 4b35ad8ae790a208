"""Gradients of the matrix products: Gemm (dense layers) and MatMul (batched, two activations)."""

from __future__ import annotations

import onnx

from mlspec.backends.portable.grad_rules.base import GradContext, Rule, attribute, present


def gemm(
    g: GradContext, node: onnx.NodeProto, grads: list[str | None], needed: list[bool]
) -> list[str | None]:
    """Y = alpha * A' B' + beta * C with A' = A or A^T, B' = B or B^T.

    dA' = alpha dY B'^T and dB' = alpha A'^T dY; a transposed operand takes the transpose of its
    product, which is again one Gemm with the operands swapped.
    """
    (dy,) = grads[:1]
    assert dy is not None
    a, b = node.input[0], node.input[1]
    alpha, beta = float(attribute(node, "alpha", 1.0)), float(attribute(node, "beta", 1.0))
    trans_a, trans_b = int(attribute(node, "transA", 0)), int(attribute(node, "transB", 0))
    result: list[str | None] = [None] * len(node.input)
    if needed[0]:
        if trans_a:  # dA = alpha B' dY^T
            result[0] = g.op("Gemm", [b, dy], "gemm_da", like=a, alpha=alpha, transA=trans_b, transB=1)
        else:  # dA = alpha dY B'^T
            result[0] = g.op("Gemm", [dy, b], "gemm_da", like=a, alpha=alpha, transB=1 - trans_b)
    if needed[1]:
        if trans_b:  # dB = alpha dY^T A'
            result[1] = g.op("Gemm", [dy, a], "gemm_db", like=b, alpha=alpha, transA=1, transB=trans_a)
        else:  # dB = alpha A'^T dY
            result[1] = g.op("Gemm", [a, dy], "gemm_db", like=b, alpha=alpha, transA=1 - trans_a)
    if present(node, 2) and needed[2]:
        result[2] = g.scale(g.reduce_to(dy, g.dims(node.output[0]), node.input[2]), beta, node.input[2])
    return result


def _swap_last(g: GradContext, name: str) -> str:
    rank = g.rank(name)
    perm = [*range(rank - 2), rank - 1, rank - 2]
    return g.op("Transpose", [name], "transposed", like=name, perm=perm)


def matmul(
    g: GradContext, node: onnx.NodeProto, grads: list[str | None], needed: list[bool]
) -> list[str | None]:
    """Y = A @ B with numpy broadcasting of the batch axes: dA = dY B^T, dB = A^T dY, each summed
    back over the batch axes its operand was broadcast along. Both operands need rank >= 2."""
    (dy,) = grads[:1]
    assert dy is not None
    a, b = node.input[0], node.input[1]
    for operand in (a, b):
        if g.rank(operand) < 2:
            raise ValueError(
                f"MatMul {node.name!r}: the gradient of a 1-D operand ({operand!r}) is not supported"
            )
    out_dims = g.dims(node.output[0])
    assert out_dims is not None
    result: list[str | None] = [None, None]
    if needed[0]:
        a_dims = g.dims(a)
        assert a_dims is not None
        da = g.op("MatMul", [dy, _swap_last(g, b)], "matmul_da", like=a)
        result[0] = g.reduce_to(da, [*out_dims[:-2], *a_dims[-2:]], a)
    if needed[1]:
        b_dims = g.dims(b)
        assert b_dims is not None
        db = g.op("MatMul", [_swap_last(g, a), dy], "matmul_db", like=b)
        result[1] = g.reduce_to(db, [*out_dims[:-2], *b_dims[-2:]], b)
    return result


RULES: dict[str, Rule] = {"Gemm": gemm, "MatMul": matmul}
