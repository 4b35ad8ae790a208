"""The spec's table of ops only the portable backend differentiates matches that backend's rules,
so validation never accepts an onnx_node on a backprop path that no backend can train."""

from __future__ import annotations

from mlspec.backends.portable.grad_rules import RULES
from mlspec.spec.kinds import GRADIENT_ONNX_OPS, PORTABLE_ONLY_GRADIENT_OPS


def test_every_portable_only_op_has_a_portable_gradient_rule() -> None:
    assert set(RULES) >= PORTABLE_ONLY_GRADIENT_OPS
    assert not PORTABLE_ONLY_GRADIENT_OPS & GRADIENT_ONNX_OPS
