"""What to train when the user does not say: the head of the network and its natural loss.

This is the Core ML personalisation habit (fine-tune the last layer with weights, cross-entropy
on the classifier's probabilities), kept in the library so that the command line, notebooks and
scripts choose the same defaults.
"""

from __future__ import annotations

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
