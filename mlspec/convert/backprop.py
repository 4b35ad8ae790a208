"""Which layers gradients must flow through, and the early refusal of specs where they cannot.

A layer needs differentiable ONNX ops only if it lies between an updatable layer and a loss;
everything else may use any op inference supports. Finding a blocked path here, in plain
Python, gives the user an error naming the layer instead of a failure deep inside
onnxruntime-training's gradient builder.
"""

from __future__ import annotations

from mlspec._proto import layers_pb2, model_pb2
from mlspec.spec.errors import MlspecError, layer_ref
from mlspec.spec.kinds import KINDS, kind_info, kind_label, passes_gradient


def updatable_layers(model: model_pb2.Model) -> list[layers_pb2.Layer]:
    """Layers marked updatable whose kind has trainable tensors."""
    return [
        layer
        for layer in model.network.layers
        if layer.is_updatable and layer.WhichOneof("kind") in KINDS and kind_info(layer).trainable
    ]


def _loss_inputs(model: model_pb2.Model) -> set[str]:
    return {loss.input for loss in model.update_parameters.loss_layers}


def _upstream_of_losses(model: model_pb2.Model, *, through_gradients: bool) -> set[str]:
    """Tensors some loss depends on; with through_gradients, only via layers that pass gradients."""
    reached = _loss_inputs(model)
    for layer in reversed(model.network.layers):
        if any(name in reached for name in layer.outputs) and (
            not through_gradients or passes_gradient(layer)
        ):
            reached.update(layer.inputs)
    return reached


def _downstream_of_updatables(model: model_pb2.Model) -> set[str]:
    """Tensors whose value depends on updatable weights through layers that pass gradients back."""
    sources = {layer.name for layer in updatable_layers(model)}
    carried: set[str] = set()
    for layer in model.network.layers:
        fed = passes_gradient(layer) and any(name in carried for name in layer.inputs)
        if layer.name in sources or fed:
            carried.update(layer.outputs)
    return carried


def backprop_layers(model: model_pb2.Model) -> set[str]:
    """Names of the layers on a path from an updatable layer (included) to a loss input."""
    with_gradient = _upstream_of_losses(model, through_gradients=True)
    carried = _downstream_of_updatables(model)
    return {
        layer.name
        for layer in model.network.layers
        if any(name in with_gradient and name in carried for name in layer.outputs)
    }


def require_gradient_paths(model: model_pb2.Model) -> None:
    """Raise unless a gradient from some loss reaches every updatable layer."""
    with_gradient = _upstream_of_losses(model, through_gradients=True)
    feeding_a_loss = _upstream_of_losses(model, through_gradients=False)
    for layer in updatable_layers(model):
        if any(name in with_gradient for name in layer.outputs):
            continue
        where = layer_ref(layer.name)
        blocker = _first_blocker(model, layer, feeding_a_loss)
        if blocker is None:
            raise MlspecError(
                f"{where}: updatable, but no loss depends on its outputs. Fix: add a loss on a tensor "
                "computed from it, or set is_updatable to false"
            )
        raise MlspecError(
            f"{where}: updatable, but gradients cannot reach it: {layer_ref(blocker.name)} "
            f"({kind_label(blocker)}) passes no gradient to its inputs. Fix: freeze "
            f"{where}, or replace {layer_ref(blocker.name)} with a kind that passes gradients"
        )


def _first_blocker(
    model: model_pb2.Model, source: layers_pb2.Layer, feeding_a_loss: set[str]
) -> layers_pb2.Layer | None:
    """The first layer after `source` that takes its values toward a loss but passes no gradient."""
    downstream = set(source.outputs)
    for layer in model.network.layers:
        if not any(name in downstream for name in layer.inputs):
            continue
        if not passes_gradient(layer) and any(name in feeding_a_loss for name in layer.outputs):
            return layer
        downstream.update(layer.outputs)
    return None
