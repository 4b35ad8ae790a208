"""The graph forms onnxruntime-training 1.19.2 needs, each measured or checked in its test.

- relu_mask: ORT's CPU ReluGrad was a third of a conv-net step (test_relu_training_form.py).
- relu_behind_max_pool: the ReLU and its gradient run on the pooled tensor.
- activation_rewrites: LeakyRelu's gradient kernel is 30x Relu's; others lack a CPU gradient.
- average_pool_as_conv, global_max_as_window: ORT has no gradient for those pools.
- batch_norm_training_op: its fused BatchNormInternal gradient kernel.
- frozen_batch_norm_folded: ORT's generator turns every BatchNormalization into a training-mode
  BatchNormInternal, so frozen statistics would silently be batch statistics.
- layer_norm_statistics: its gradient builder reads Mean, InvStdDev and a bias.
- binary_add_chain: Sum has no CPU gradient; Add has.
- max_pool_gathered: MaxPoolGrad sizes its result from build-time shapes; unknown sizes became 0.
- refuse_auto_pad_gradient: gradients through auto_pad are wrong (docs/ORT_FINDINGS.md).
"""

from __future__ import annotations

from mlspec.convert.forms import GraphForms

ORT_FORMS = GraphForms(
    relu_mask=True,
    relu_behind_max_pool=True,
    activation_rewrites=True,
    average_pool_as_conv=True,
    global_max_as_window=True,
    max_pool_gathered=True,
    batch_norm_training_op=True,
    frozen_batch_norm_folded=True,
    layer_norm_statistics=True,
    binary_add_chain=True,
    refuse_auto_pad_gradient=True,
)
