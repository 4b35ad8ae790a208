"""Gradient rules of the portable backend, one per ONNX op type, grouped in files by family."""

from __future__ import annotations

from mlspec.backends.portable.grad_rules import (
    activations,
    conv,
    elementwise,
    linear,
    norm,
    pool,
    reductions,
    shape,
)
from mlspec.backends.portable.grad_rules.base import Rule

RULES: dict[str, Rule] = {
    **linear.RULES,
    **elementwise.RULES,
    **activations.RULES,
    **reductions.RULES,
    **shape.RULES,
    **conv.RULES,
    **pool.RULES,
    **norm.RULES,
}
