"""GraphForms: the op spellings a training backend wants on its backprop path.

A backend that differentiates the graph itself (portable) is best served by the plain ONNX ops
the inference model uses. onnxruntime-training needs some layers spelled otherwise, because its
CPU gradient kernels are slow, missing or wrong for the plain op; those choices are that
backend's, declared once as an instance of this class (backends/ort_training/forms.py) and
consulted by the emitters only for layers on the backprop path of a training graph.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GraphForms:
    """Each flag replaces one plain op on the backprop path; all off means plain ops everywhere."""

    # ReLU as x * Cast(x > 0).
    relu_mask: bool = False
    # A ReLU that only a max pool reads moved behind the pool (the same values, a quarter of the
    # elements for a 2x2 pool, and a gradient equal to the unmoved one's: see emit_activation).
    relu_behind_max_pool: bool = False
    # Leaky ReLU, ELU, GELU, hard sigmoid/swish and the like spelled with elementary ops.
    activation_rewrites: bool = False
    # Average pooling as a depthwise Conv with a constant 1/k kernel.
    average_pool_as_conv: bool = False
    # Global max pooling as a MaxPool whose window covers the input.
    global_max_as_window: bool = False
    # Max pooling over spatial sizes unknown at build time as a Gather at MaxPool's Indices.
    max_pool_gathered: bool = False
    # A training-mode batch norm as one BatchNormalization(training_mode=1) rather than spelled out.
    batch_norm_training_op: bool = False
    # A frozen batch norm (anywhere in a training graph) folded into per-channel Mul and Add.
    frozen_batch_norm_folded: bool = False
    # LayerNormalization declares its Mean/InvStdDev outputs and a bias input in training.
    layer_norm_statistics: bool = False
    # Elementwise add of three or more inputs as a chain of binary Add instead of one Sum.
    binary_add_chain: bool = False
    # Same padding via auto_pad is refused on the backprop path (its gradient is wrong there).
    refuse_auto_pad_gradient: bool = False


PLAIN = GraphForms()
