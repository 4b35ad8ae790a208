"""The classifier's predicted label: ArgMax over the probabilities, then a lookup in the labels.

Not a layer kind: the spec states it once in ClassifierInfo, and only the inference graph has it
(a string output has no place in a graph that onnxruntime-training differentiates).
"""

from __future__ import annotations

import numpy as np

from mlspec._proto import model_pb2
from mlspec.convert.emitters.context import EmitContext
from mlspec.spec.errors import MlspecError
from mlspec.spec.graph import class_labels, producers


def emit_predicted_label(ctx: EmitContext, model: model_pb2.Model) -> None:
    info = model.classifier
    probabilities = info.predicted_probabilities_name
    source = producers(model).get(probabilities)
    if source is None:
        raise MlspecError(
            f"classifier.predicted_probabilities_name: {probabilities!r} is not produced by any layer"
        )
    labels = class_labels(model)
    winner = ctx.tensor(source, "predicted_index") if labels else info.predicted_feature_name
    # Nodes are named after the layer producing the probabilities, so they trace back to a layer.
    ctx.node(source, "ArgMax", [probabilities], [winner], step="label_argmax", axis=-1, keepdims=0)
    if not labels:
        return
    values = np.array(labels, dtype=object if isinstance(labels[0], str) else np.int64)
    table = ctx.add_initializer(f"{source.name}/class_labels", values)
    ctx.node(source, "Gather", [table, winner], [info.predicted_feature_name], step="label_lookup", axis=0)
