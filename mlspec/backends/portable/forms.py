"""The graph forms the portable backend differentiates: plain ONNX ops, one layer moved.

- relu_behind_max_pool: a ReLU read only by a max pool runs on the pooled tensor, so its
  forward and gradient kernels see a quarter of the cells behind a 2x2 pool (the BNNS-style
  CNN of tools/bench/train_throughput.py); values and gradients are unchanged.
"""

from __future__ import annotations

from mlspec.convert.forms import GraphForms

PORTABLE_FORMS = GraphForms(relu_behind_max_pool=True)
