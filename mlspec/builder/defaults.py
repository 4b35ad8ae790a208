"""What to train when the user does not say: the head of the network and its natural loss.

This is the Core ML personalisation habit (fine-tune the last layer with weights, cross-entropy
on the classifier's probabilities), kept in the library so that the command line, notebooks and
scripts choose the same defaults.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence

from mlspec._proto import model_pb2
from mlspec.spec import graph, kinds
from mlspec.spec.errors import SpecEditError


def last_trainable_layer(model: model_pb2.Model) -> str:
    """The last layer (in network order) whose kind has tensors that training can update."""
    for layer in reversed(model.network.layers):
        kind = layer.WhichOneof("kind")
        if kind is not None and kinds.KINDS[kind].trainable:
            return layer.name
    trainable = ", ".join(kinds.TRAINABLE_KINDS)
    raise SpecEditError(f"the network has no layer that can be trained; trainable kinds are: {trainable}")


def default_loss_input(model: model_pb2.Model) -> str | None:
    """The classifier's probabilities, else the first declared output a layer produces, else None."""
    produced = graph.producers(model)
    if model.HasField("classifier") and model.classifier.predicted_probabilities_name in produced:
        return model.classifier.predicted_probabilities_name
    return next((feature.name for feature in model.description.outputs if feature.name in produced), None)


HEAD_ALIAS = "head"
"""Names the last trainable layer (the classifier head) in a layer selection."""


def select_layers(model: model_pb2.Model, patterns: Sequence[str]) -> list[str]:
    """Layer names matching `patterns`, in network order: exact names, shell globs such as
    "layer4.*" (matched against whole names, as fnmatch does), or "head" for the last trainable
    layer. A pattern that matches no layer is refused, listing a few names it could have meant."""
    names = [layer.name for layer in model.network.layers]
    chosen: set[str] = set()
    for pattern in patterns:
        if pattern in names:
            chosen.add(pattern)
        elif pattern == HEAD_ALIAS:
            chosen.add(last_trainable_layer(model))
        else:
            matched = fnmatch.filter(names, pattern)
            if not matched:
                shown = ", ".join(names[-6:])
                raise SpecEditError(
                    f'no layer named "{pattern}", and it matches no name as a glob; the last layers '
                    f"are: {shown} (give a name, a glob such as 'features.*', or {HEAD_ALIAS})"
                )
            chosen.update(matched)
    return [name for name in names if name in chosen]
