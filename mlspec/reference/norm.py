"""Reference batch and layer normalisation."""

from __future__ import annotations

import numpy as np

from mlspec.reference.context import Array, LayerContext, LayerFunction


def batch_norm(ctx: LayerContext, inputs: list[Array]) -> list[Array]:
    """Normalise axis 1.

    Only an updatable layer runs in training mode (batch statistics, running statistics moved by
    momentum); a frozen layer keeps its running statistics even while the model trains, which is
    what the converter's training graph does too. The updated running statistics are reported as
    side outputs "{layer}.running_mean" and "{layer}.running_variance".
    """
    params = ctx.layer.batch_norm
    x = ctx.as_float(inputs[0])
    channel_shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    if ctx.training and ctx.layer.is_updatable:
        axes = (0, *range(2, x.ndim))
        mean, variance = x.mean(axis=axes), x.var(axis=axes)
        # PyTorch's running variance follows the unbiased batch variance (ddof=1).
        moved = variance if params.biased_running_variance else x.var(axis=axes, ddof=1)
        keep = params.momentum
        name = ctx.layer.name
        ctx.side_outputs[f"{name}.running_mean"] = keep * ctx.weight("running_mean") + (1 - keep) * mean
        ctx.side_outputs[f"{name}.running_variance"] = (
            keep * ctx.weight("running_variance") + (1 - keep) * moved
        )
    else:
        mean, variance = ctx.weight("running_mean"), ctx.weight("running_variance")
    gamma, beta = ctx.weight("gamma"), ctx.weight("beta")
    scale = gamma / np.sqrt(variance + params.epsilon)
    return [(x - mean.reshape(channel_shape)) * scale.reshape(channel_shape) + beta.reshape(channel_shape)]


def layer_norm(ctx: LayerContext, inputs: list[Array]) -> list[Array]:
    """Normalise over the trailing len(normalized_shape) axes with the biased variance."""
    params = ctx.layer.layer_norm
    x = ctx.as_float(inputs[0])
    axes = tuple(range(x.ndim - len(params.normalized_shape), x.ndim))
    mean = x.mean(axis=axes, keepdims=True)
    variance = x.var(axis=axes, keepdims=True)
    y: Array = (x - mean) / np.sqrt(variance + params.epsilon) * ctx.weight("gamma")
    if ctx.has_weight("beta"):
        y = y + ctx.weight("beta")
    return [y]


FUNCTIONS: dict[str, LayerFunction] = {"batch_norm": batch_norm, "layer_norm": layer_norm}
