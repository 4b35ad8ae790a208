"""Updatable rules: what may train, what is flagged, and whether gradients can reach it.

Core ML only lets gradients through a handful of layer kinds; mlspec lets them through every
kind the catalogue marks `passes_gradient` (and every onnx_node whose op is in GRADIENT_ONNX_OPS),
so the check here is a graph search rather than a fixed list of allowed neighbours.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from mlspec._proto import layers_pb2, tensor_pb2
from mlspec.spec.errors import Problem
from mlspec.spec.kinds import KINDS, TRAINABLE_KINDS, kind_label, layer_tensors, passes_gradient
from mlspec.spec.validate.context import Context, layer_where
from mlspec.spec.weights import dtype_name


def check(context: Context) -> list[Problem]:
    return [*_model_level(context), *_layer_level(context), *_backprop_paths(context)]


def _model_level(context: Context) -> list[Problem]:
    model = context.model
    updatable = [layer for layer in model.network.layers if layer.is_updatable]
    problems: list[Problem] = []
    if model.is_updatable:
        if not updatable:
            problems.append(
                Problem(
                    "is_updatable",
                    "the model is updatable but none of its layers is",
                    f"set is_updatable on at least one layer of kind {', '.join(TRAINABLE_KINDS)}",
                )
            )
        if not model.update_parameters.loss_layers:
            problems.append(
                Problem(
                    "update_parameters.loss_layers",
                    "an updatable model needs at least one loss",
                    "add a loss (categorical cross-entropy, MSE, binary cross-entropy, L1 or Huber)",
                )
            )
        if model.update_parameters.optimizer.WhichOneof("kind") is None:
            problems.append(
                Problem(
                    "update_parameters.optimizer",
                    "an updatable model needs an optimizer",
                    "set sgd, adam or adamw",
                )
            )
    elif updatable:
        names = ", ".join(f'"{layer.name}"' for layer in updatable)
        problems.append(
            Problem(
                "is_updatable",
                f"the model is not updatable, yet layers {names} are",
                "set the model's is_updatable, or clear the layers' flags",
            )
        )
    return problems


def _layer_level(context: Context) -> list[Problem]:
    problems: list[Problem] = []
    for index, layer in enumerate(context.model.network.layers):
        kind = layer.WhichOneof("kind")
        if kind is None:
            continue
        where = layer_where(layer, index)
        trainable_fields = KINDS[kind].trainable_fields
        flagged = [(field, tensor) for field, tensor in layer_tensors(layer) if tensor.is_updatable]
        if layer.is_updatable and not trainable_fields:
            problems.append(
                Problem(
                    where,
                    f"is updatable, but {kind} layers have nothing to train; trainable kinds are "
                    f"{', '.join(TRAINABLE_KINDS)}",
                    "clear is_updatable on this layer (gradients still pass through it)",
                )
            )
            continue
        if layer.is_updatable and not any(field in trainable_fields for field, _ in flagged):
            problems.append(
                Problem(
                    where,
                    f"is updatable, but none of its tensors ({', '.join(trainable_fields)}) "
                    "is flagged is_updatable",
                    "set is_updatable on the tensors to train, or clear the layer's flag",
                )
            )
        for field, tensor in flagged:
            problems += _flagged_tensor(layer, f"{where}.{field}", field, tensor)
    return problems


def _flagged_tensor(
    layer: layers_pb2.Layer, where: str, field: str, tensor: tensor_pb2.Tensor
) -> list[Problem]:
    kind = layer.WhichOneof("kind")
    trainable_fields = KINDS[kind].trainable_fields if kind else ()
    if not layer.is_updatable:
        return [
            Problem(
                where,
                "is flagged is_updatable, but the layer is not updatable",
                "set the layer's is_updatable, or clear the tensor's flag",
            )
        ]
    if field not in trainable_fields:
        why = " (running statistics follow the data, not gradients)" if kind == "batch_norm" else ""
        return [
            Problem(
                where,
                f"is flagged is_updatable, but {kind} only trains {', '.join(trainable_fields)}{why}",
                "clear the flag on this tensor",
            )
        ]
    if tensor.dtype != tensor_pb2.FLOAT32:
        return [
            Problem(
                where,
                f"is flagged is_updatable but stored as {dtype_name(tensor.dtype)}; "
                "training updates float32 weights",
                "store the weights as float32 (array.astype(numpy.float32)) or clear the flag",
            )
        ]
    return []


_NAMED_BLOCKERS = 8
"""A cut-off layer's message names at most this many blockers (the first in layer order)."""


def _backprop_paths(context: Context) -> list[Problem]:
    """Each updatable layer needs a path to some loss input through layers that pass gradients.

    Which tensors have such a path is found once, backwards from the loss inputs (a search
    forwards from every updatable layer took quadratic time: 86 s for 1,000 dense layers), and
    what blocks the others once, backwards through the layers (_blockers_by_tensor)."""
    layers = context.model.network.layers
    loss_inputs = {loss.input for loss in context.model.update_parameters.loss_layers if loss.input}
    if not loss_inputs:
        return []  # the missing loss is reported on its own
    reaching = _tensors_reaching(layers, loss_inputs)
    cut_off = [
        index
        for index, layer in enumerate(layers)
        if layer.is_updatable
        and layer.WhichOneof("kind") is not None
        and KINDS[layer.WhichOneof("kind")].trainable  # an untrainable one is reported by _layer_level
        and not any(out in reaching for out in layer.outputs)
    ]
    if not cut_off:
        return []
    blockers_of = _blockers_by_tensor(layers, _tensors_feeding(context, loss_inputs))
    problems: list[Problem] = []
    for index in cut_off:
        layer = layers[index]
        blockers, more = _merged([blockers_of.get(out, ([], False)) for out in layer.outputs])
        if not blockers:
            problems.append(
                Problem(
                    layer_where(layer, index),
                    "is updatable, but no loss depends on its output",
                    "add a loss on a tensor computed from this layer, or clear its is_updatable",
                )
            )
            continue
        named = ", ".join(f"{layer_where(layers[b], b)} ({kind_label(layers[b])})" for b in blockers)
        problems.append(
            Problem(
                layer_where(layer, index),
                f"is updatable, but no loss gradient reaches it: the path to the loss is blocked by "
                f"{named}{' and others' if more else ''}, which passes no gradient",
                "train only layers after it (mlspec make-updatable --layers A,B; make_updatable in "
                "Python), or put the loss on a tensor computed without it (--loss-input)",
            )
        )
    return problems


Blockers = tuple[list[int], bool]
"""The first _NAMED_BLOCKERS blocking layers (indices, ascending) and whether there are more."""


def _merged(parts: Sequence[Blockers]) -> Blockers:
    found = sorted({index for indices, _ in parts for index in indices})
    more = any(more for _, more in parts) or len(found) > _NAMED_BLOCKERS
    return found[:_NAMED_BLOCKERS], more


def _blockers_by_tensor(layers: Sequence[layers_pb2.Layer], feeds_loss: set[str]) -> dict[str, Blockers]:
    """For every tensor, the layers that pass no gradient yet lead to a loss, reached from it
    forward through gradient-passing layers: what blocks a layer that writes it from the loss.

    One pass from the last layer to the first (readers come after the layer that writes what
    they read); each tensor keeps only the first few blockers, so the pass stays linear however
    many layers are cut off (a forward search per cut-off layer was quadratic, and capping the
    searches at 20 left the rest unnamed)."""
    readers: dict[str, list[int]] = defaultdict(list)
    for index, layer in enumerate(layers):
        for name in set(layer.inputs):
            readers[name].append(index)
    found: dict[str, Blockers] = {}
    for index in range(len(layers) - 1, -1, -1):
        for out in layers[index].outputs:
            if out not in found:
                found[out] = _merged([_through(layers, r, found, feeds_loss) for r in readers.get(out, [])])
    return found


def _through(
    layers: Sequence[layers_pb2.Layer], reader: int, found: dict[str, Blockers], feeds_loss: set[str]
) -> Blockers:
    """What blocks a gradient arriving from `reader`: the reader itself when it passes none
    (and leads to a loss), else whatever blocks its outputs."""
    layer = layers[reader]
    if layer.WhichOneof("kind") is None:
        return [], False
    if not passes_gradient(layer):
        return ([reader] if any(out in feeds_loss for out in layer.outputs) else []), False
    return _merged([found.get(out, ([], False)) for out in layer.outputs])


def _tensors_reaching(layers: Sequence[layers_pb2.Layer], loss_inputs: set[str]) -> set[str]:
    """Every tensor from which a loss input is computed through gradient-passing layers only."""
    producers: dict[str, list[int]] = defaultdict(list)
    for index, layer in enumerate(layers):
        if layer.WhichOneof("kind") is not None and passes_gradient(layer):
            for name in layer.outputs:
                producers[name].append(index)
    found = set(loss_inputs)
    pending = list(loss_inputs)
    while pending:
        for index in producers.get(pending.pop(), []):
            for name in layers[index].inputs:
                if name not in found:
                    found.add(name)
                    pending.append(name)
    return found


def _tensors_feeding(context: Context, targets: set[str]) -> set[str]:
    """Every tensor some target is computed from (gradients or not), the targets included."""
    found = set(targets)
    pending = list(targets)
    while pending:
        producer = context.producer(pending.pop())
        if producer is None:
            continue
        for name in producer.inputs:
            if name not in found:
                found.add(name)
                pending.append(name)
    return found
