"""Emitters for batch and layer normalisation, in their inference and training forms."""

from __future__ import annotations

import numpy as np

from mlspec._proto import layers_pb2
from mlspec.convert.emitters.context import EmitContext, where
from mlspec.spec.errors import MlspecError
from mlspec.spec.tensor_info import format_dims

_BATCH_NORM_FIELDS = ("gamma", "beta", "running_mean", "running_variance")


def emit_batch_norm(ctx: EmitContext, layer: layers_pb2.Layer) -> None:
    """Three forms: training mode (updatable layer), frozen affine (frozen, in any training graph), plain.

    onnxruntime-training neither updates running statistics itself nor differentiates an
    inference-mode BatchNormalization, hence the explicit running-stat outputs of the first form.
    Its artifact generator also turns every BatchNormalization into a training-mode
    BatchNormInternal, so a frozen batch norm left as BatchNormalization would normalise with the
    mini-batch's statistics during training while eval and inference use the stored ones; the
    Mul/Add form keeps the frozen statistics frozen, on or off the backprop path.
    """
    params = layer.batch_norm
    source, target = layer.inputs[0], layer.outputs[0]
    if ctx.training and layer.is_updatable:
        gamma, beta, mean, variance = (ctx.weight(layer, f) for f in _BATCH_NORM_FIELDS)
        new_mean, new_variance = (
            ctx.tensor(layer, "running_mean_out"),
            ctx.tensor(layer, "running_variance_out"),
        )
        ctx.node(
            layer,
            "BatchNormalization",
            [source, gamma, beta, mean, variance],
            [target, new_mean, new_variance],
            epsilon=params.epsilon,
            momentum=params.momentum,
            training_mode=1,
        )
        ctx.frozen_stateful.extend([mean, variance])
        ctx.running_stat_outputs.update({mean: new_mean, variance: new_variance})
    elif ctx.training and ctx.forms.frozen_batch_norm_folded:
        _frozen_affine(ctx, layer)
    else:
        inputs = [source, *(ctx.weight(layer, f) for f in _BATCH_NORM_FIELDS)]
        ctx.node(layer, "BatchNormalization", inputs, [target], epsilon=params.epsilon)


def _frozen_affine(ctx: EmitContext, layer: layers_pb2.Layer) -> None:
    """y = x * scale + shift with the frozen statistics folded into per-channel constants."""
    dims = ctx.dims(layer.inputs[0])
    if dims is None or len(dims) < 2:
        raise MlspecError(
            f"{where(layer)}: a frozen batch norm in a training graph needs an input of known rank "
            f"[batch, channels, ...], but the input is {format_dims(dims)}"
        )
    gamma, beta, mean, variance = (ctx.weight_array(layer, f) for f in _BATCH_NORM_FIELDS)
    scale = gamma / np.sqrt(variance + layer.batch_norm.epsilon)
    channel_shape = (-1,) + (1,) * (len(dims) - 2)
    scale_name = ctx.constant(layer, "scale", scale.reshape(channel_shape))
    shift_name = ctx.constant(layer, "shift", (beta - mean * scale).reshape(channel_shape))
    scaled = ctx.tensor(layer, "scaled")
    ctx.node(layer, "Mul", [layer.inputs[0], scale_name], [scaled], step="frozen_scale")
    ctx.node(layer, "Add", [scaled, shift_name], [layer.outputs[0]], step="frozen_shift")


def emit_layer_norm(ctx: EmitContext, layer: layers_pb2.Layer) -> None:
    """In training the Mean and InvStdDev outputs and a bias input are declared: ORT's gradient
    builder reads all three (see test_graph_ort_facts.py) and fails without them."""
    params = layer.layer_norm
    inputs = [layer.inputs[0], ctx.weight(layer, "gamma")]
    if params.HasField("beta"):
        inputs.append(ctx.weight(layer, "beta"))
    elif ctx.training and ctx.forms.layer_norm_statistics:
        inputs.append(ctx.constant(layer, "zero_beta", np.zeros(list(params.normalized_shape))))
    outputs = [layer.outputs[0]]
    if ctx.training and ctx.forms.layer_norm_statistics:
        outputs += [ctx.tensor(layer, "mean"), ctx.tensor(layer, "inv_std_dev")]
    ctx.node(
        layer,
        "LayerNormalization",
        inputs,
        outputs,
        axis=-len(params.normalized_shape),
        epsilon=params.epsilon,
    )
