"""Emitters for batch and layer normalisation, in their inference and training forms."""

from __future__ import annotations

from typing import Any

import numpy as np
from onnx import TensorProto

from mlspec._proto import layers_pb2
from mlspec.convert.emitters.context import EmitContext, Emitter, where
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
        _training_batch_norm(ctx, layer)
    elif ctx.training and ctx.forms.frozen_batch_norm_folded:
        _frozen_affine(ctx, layer)
    else:
        inputs = [source, *(ctx.weight(layer, f) for f in _BATCH_NORM_FIELDS)]
        ctx.node(layer, "BatchNormalization", inputs, [target], epsilon=params.epsilon)


def _training_batch_norm(ctx: EmitContext, layer: layers_pb2.Layer) -> None:
    """Batch statistics normalise; the running statistics move toward them by momentum.

    The running variance moves toward the unbiased batch variance (n/(n-1) times the biased
    one, n values per channel), as PyTorch's does, unless the layer sets
    `biased_running_variance` (ONNX's convention). The running statistics are computed
    from the batch's mean and variance. With the `batch_norm_training_op` form the normalisation
    is one training-mode BatchNormalization (onnxruntime-training differentiates it with its
    fused kernel) whose running outputs are corrected; otherwise it is spelled out in reductions
    and elementwise ops, which every runtime runs (stock onnxruntime's CPU BatchNormalization
    gives wrong outputs in training mode).
    """
    params = layer.batch_norm
    source, target = layer.inputs[0], layer.outputs[0]
    gamma, beta, mean, variance = (ctx.weight(layer, f) for f in _BATCH_NORM_FIELDS)
    dims = ctx.dims(source)
    if dims is None or len(dims) < 2:
        raise MlspecError(
            f"{where(layer)}: a batch norm in training mode needs an input of known rank "
            f"[batch, channels, ...], but the input is {format_dims(dims)}"
        )
    if ctx.forms.batch_norm_training_op:
        onnx_mean, onnx_variance = (
            ctx.tensor(layer, "onnx_running_mean"),
            ctx.tensor(layer, "onnx_running_variance"),
        )
        ctx.node(
            layer,
            "BatchNormalization",
            [source, gamma, beta, mean, variance],
            [target, onnx_mean, onnx_variance],
            epsilon=params.epsilon,
            momentum=params.momentum,
            training_mode=1,
        )
        # onnxruntime-training updates the running inputs in place, so the moved statistics are
        # read from the op's outputs (ONNX's rule, biased variance) and corrected from there:
        # momentum * v + (1 - momentum) * n/(n-1) * b = ONNX's output + (1 - momentum) * b/(n-1).
        new_mean = _op(ctx, layer, "Identity", [onnx_mean], "running_mean_out")
        if params.biased_running_variance:
            new_variance = _op(ctx, layer, "Identity", [onnx_variance], "running_variance_out")
        else:
            batch_mean, _, batch_variance = _batch_statistics(ctx, layer, len(dims))
            _, less_one = _counts(ctx, layer, batch_mean)
            share = _op(ctx, layer, "Div", [_flat(ctx, layer, batch_variance, "variance"), less_one], "share")
            correction = _op(ctx, layer, "Mul", [share, _take(ctx, layer)], "correction")
            new_variance = _op(ctx, layer, "Add", [onnx_variance, correction], "running_variance_out")
    else:
        batch_mean, centered, batch_variance = _batch_statistics(ctx, layer, len(dims))
        _spelled_out(ctx, layer, centered, batch_variance, len(dims))
        statistic = batch_variance
        if not params.biased_running_variance:
            count, less_one = _counts(ctx, layer, batch_mean)
            bessel = _op(ctx, layer, "Div", [count, less_one], "bessel")
            statistic = _op(ctx, layer, "Mul", [batch_variance, bessel], "unbiased")
        new_mean = _moved(ctx, layer, mean, batch_mean, "running_mean_out")
        new_variance = _moved(ctx, layer, variance, statistic, "running_variance_out")
    ctx.frozen_stateful.extend([mean, variance])
    ctx.running_stat_outputs.update({mean: new_mean, variance: new_variance})


def _batch_statistics(ctx: EmitContext, layer: layers_pb2.Layer, rank: int) -> tuple[str, str, str]:
    """(mean, x - mean, biased variance) over every axis but the channels, kept as [1, C, 1, ...]."""
    source = layer.inputs[0]
    axes = ctx.constant(layer, "axes", [0, *range(2, rank)], dtype=np.int64)
    batch_mean = _op(ctx, layer, "ReduceMean", [source, axes], "batch_mean", keepdims=1)
    centered = _op(ctx, layer, "Sub", [source, batch_mean], "centered")
    squares = _op(ctx, layer, "Mul", [centered, centered], "squares")
    return batch_mean, centered, _op(ctx, layer, "ReduceMean", [squares, axes], "batch_variance", keepdims=1)


def _op(
    ctx: EmitContext, layer: layers_pb2.Layer, op_type: str, inputs: list[str], step: str, **attributes: Any
) -> str:
    """One node of a layer's subgraph; returns its output, named after the step."""
    output = ctx.tensor(layer, step)
    ctx.node(layer, op_type, inputs, [output], step=step, **attributes)
    return output


def _spelled_out(
    ctx: EmitContext, layer: layers_pb2.Layer, centered: str, batch_variance: str, rank: int
) -> None:
    """y = (x - mean) * (gamma / sqrt(var + eps)) + beta, per channel, in standard ops.

    The per-channel factor is formed on the C-sized statistics, so the full-sized tensor meets
    one Mul and one Add (forward) and its gradient none of the Divs that normalising first
    would put there.
    """
    epsilon = ctx.constant(layer, "epsilon", layer.batch_norm.epsilon)
    std = _op(ctx, layer, "Sqrt", [_op(ctx, layer, "Add", [batch_variance, epsilon], "variance_eps")], "std")
    channel = ctx.constant(layer, "channel_shape", [-1, *([1] * (rank - 2))], dtype=np.int64)
    scale = _op(ctx, layer, "Reshape", [ctx.weight(layer, "gamma"), channel], "scale")
    shift = _op(ctx, layer, "Reshape", [ctx.weight(layer, "beta"), channel], "shift")
    factor = _op(ctx, layer, "Div", [scale, std], "factor")
    scaled = _op(ctx, layer, "Mul", [centered, factor], "scaled")
    ctx.node(layer, "Add", [scaled, shift], [layer.outputs[0]], step="output")


def _counts(ctx: EmitContext, layer: layers_pb2.Layer, batch_mean: str) -> tuple[str, str]:
    """(n, n - 1), n = values per channel = elements of the input / elements of its mean."""
    size, channels = (
        _op(
            ctx,
            layer,
            "Cast",
            [_op(ctx, layer, "Size", [tensor], f"size_{what}")],
            f"count_{what}",
            to=TensorProto.FLOAT,
        )
        for tensor, what in ((layer.inputs[0], "input"), (batch_mean, "channels"))
    )
    count = _op(ctx, layer, "Div", [size, channels], "count")
    return count, _op(ctx, layer, "Sub", [count, ctx.constant(layer, "one", 1.0)], "count_less_one")


def _flat(ctx: EmitContext, layer: layers_pb2.Layer, statistic: str, what: str) -> str:
    """A [1, C, 1, ...] batch statistic as [C], the running statistics' shape."""
    flat = ctx.constant(layer, "flat", [-1], dtype=np.int64)
    return _op(ctx, layer, "Reshape", [statistic, flat], f"{what}_flat")


def _take(ctx: EmitContext, layer: layers_pb2.Layer) -> str:
    return ctx.constant(layer, "take", 1.0 - layer.batch_norm.momentum)


def _moved(ctx: EmitContext, layer: layers_pb2.Layer, running: str, statistic: str, step: str) -> str:
    """momentum * running + (1 - momentum) * statistic, the statistic flattened to [channels]."""
    keep = ctx.constant(layer, "keep", layer.batch_norm.momentum)
    kept = _op(ctx, layer, "Mul", [running, keep], f"{step}_kept")
    taken = _op(ctx, layer, "Mul", [_flat(ctx, layer, statistic, step), _take(ctx, layer)], f"{step}_taken")
    return _op(ctx, layer, "Add", [kept, taken], step)


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


EMITTERS: dict[str, Emitter] = {"batch_norm": emit_batch_norm, "layer_norm": emit_layer_norm}
