"""Recognising a classifier in an ONNX graph and finding its class labels.

A graph output written by a Softmax over the last axis of a [batch, classes] tensor makes the
model a classifier whose probabilities are that output. Exporters that already emit a label
output (mlspec's own exporter, skl2onnx-style graphs) compute it from the probabilities or the
logits with ArgMax, optionally followed by a lookup in a constant label table; such an output
becomes the classifier's predicted feature instead of network layers, and its table supplies
the labels. A model written by mlspec's own exporter (producer "mlspec") that has no label output
was not a classifier, so its final Softmax stays a plain output.

A model without such a Softmax is a classifier when class labels are given and its first output
is [batch, classes] logits or their LogSoftmax, as PyTorch models end: a softmax layer over the
logits adds the probabilities (the LogSoftmax node and its output are dropped, the logits output
is replaced), and cross-entropy trains from the logits.

Labels that are all decimal integers ("1,2,3", from the argument or metadata) are integer class
labels, not indices: training data names classes by those values (or by strings of them).

Label sources, first match wins: the `labels` argument; the model metadata key `class_labels`,
holding a JSON array or a comma-separated list; the lookup table (Gather, or ai.onnx.ml's
ArrayFeatureExtractor as skl2onnx writes it); the class labels of a ZipMap the import dropped
(see onnx_ml); "0", "1", ... otherwise.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import onnx

from mlspec.convert.importers.onnx_checks import OnnxImportError
from mlspec.convert.importers.onnx_graph import PreparedGraph

LABELS_METADATA_KEY = "class_labels"
_INTEGER = re.compile(r"-?(0|[1-9][0-9]*)")
MLSPEC_PRODUCER = "mlspec"
_DEFAULT_LABEL_NAMES = ("label", "classLabel", "predicted_label")
MAX_CLASSES = 1_000_000
"""Most classes an imported classifier may have; checked before any label is made."""


@dataclass
class ClassifierFinding:
    probabilities: str
    classes: int
    labels: list[str] | list[int]
    label_output: str
    # Nodes computing the label output from the probabilities; they are not mapped to layers.
    label_nodes: list[onnx.NodeProto] = field(default_factory=list)
    # A model ending in logits or log_softmax: the tensor a new softmax layer turns into
    # `probabilities`, and the graph output that the probabilities replace.
    logits: str = ""
    replaced_output: str = ""


def find_classifier(
    prepared: PreparedGraph, labels: Sequence[str] | None, where: str
) -> ClassifierFinding | None:
    producers = {output: node for node in prepared.nodes for output in node.output}
    softmax = next(
        (
            producers[name]
            for name in prepared.output_names()
            if name in producers and producers[name].op_type == "Softmax" and producers[name].domain == ""
        ),
        None,
    )
    if softmax is None:
        return _from_logits(prepared, producers, labels, where) if labels is not None else None
    probabilities = softmax.output[0]
    dims = prepared.dims(probabilities)
    axis = next((int(a.i) for a in softmax.attribute if a.name == "axis"), -1)
    if dims is None or len(dims) != 2 or axis not in (-1, 1):
        return None
    classes = dims[1] if isinstance(dims[1], int) else len(labels) if labels else None
    if classes is None:
        raise OnnxImportError(
            f'{where}: softmax output "{probabilities}" has an unknown number of classes; '
            "pass the class labels (labels=[...] or --labels a,b,...)"
        )
    if classes > MAX_CLASSES:
        raise OnnxImportError(
            f'{where}: softmax output "{probabilities}" has {classes:,} classes; mlspec imports '
            f"classifiers of at most {MAX_CLASSES:,} classes"
        )
    label_output, label_nodes = _label_chain(prepared, producers, probabilities, softmax.input[0])
    if not label_output and prepared.model.producer_name == MLSPEC_PRODUCER:
        return None
    chosen = _choose_labels(
        prepared, labels, label_nodes, classes=classes, probabilities=probabilities, where=where
    )
    name = label_output or _free_label_name(prepared)
    return ClassifierFinding(probabilities, classes, chosen, name, label_nodes)


def _from_logits(
    prepared: PreparedGraph, producers: dict[str, onnx.NodeProto], labels: Sequence[str], where: str
) -> ClassifierFinding | None:
    """A classifier the way PyTorch writes one: its first output is [batch, classes] logits, or
    their log_softmax (whose node the import drops). A softmax layer over the logits gives the
    probabilities; cross-entropy then trains from the logits (convert/losses.py)."""
    output = next(iter(prepared.output_names()), None)
    node = producers.get(output) if output is not None else None
    dims = prepared.dims(output) if output is not None else None
    if output is None or node is None or dims is None or len(dims) != 2:
        return None
    if prepared.elem_type(output) != onnx.TensorProto.FLOAT:
        return None
    axis = next((int(a.i) for a in node.attribute if a.name == "axis"), -1)
    log_softmax = node.op_type == "LogSoftmax" and node.domain == "" and axis in (-1, 1)
    classes = dims[1] if isinstance(dims[1], int) else len(labels)
    chosen = _checked(list(labels), classes, where, "labels argument")
    taken = _taken_names(prepared)
    probabilities = next(
        name
        for name in ("probabilities", *(f"probabilities_{i}" for i in range(1, len(taken) + 2)))
        if name not in taken
    )
    return ClassifierFinding(
        probabilities,
        classes,
        chosen,
        _free_label_name(prepared),
        label_nodes=[node] if log_softmax else [],
        logits=node.input[0] if log_softmax else output,
        replaced_output=output,
    )


def _label_chain(
    prepared: PreparedGraph, producers: dict[str, onnx.NodeProto], probabilities: str, logits: str
) -> tuple[str, list[onnx.NodeProto]]:
    """The first graph output computed from the scores by an ArgMax chain, with that chain."""
    for output in prepared.output_names():
        if output == probabilities:
            continue
        nodes: list[onnx.NodeProto] = []
        pending = [output]
        seen: set[str] = set()
        valid = True
        while pending and valid:
            tensor = pending.pop()
            if tensor in seen or tensor in (probabilities, logits) or tensor in prepared.constants:
                continue
            seen.add(tensor)
            node = producers.get(tensor)
            if node is None:
                valid = False
                break
            nodes.append(node)
            pending.extend(name for name in node.input if name)
        if valid and any(node.op_type == "ArgMax" for node in nodes):
            return output, nodes
    return "", []


def _choose_labels(
    prepared: PreparedGraph,
    labels: Sequence[str] | None,
    label_nodes: list[onnx.NodeProto],
    *,
    classes: int,
    probabilities: str,
    where: str,
) -> list[str] | list[int]:
    if labels is not None:
        return _checked(list(labels), classes, where, "labels argument")
    metadata = {prop.key: prop.value for prop in prepared.model.metadata_props}
    if LABELS_METADATA_KEY in metadata:
        return _checked(_parse_labels(metadata[LABELS_METADATA_KEY]), classes, where, "metadata class_labels")
    table = _lookup_table(prepared, label_nodes, classes)
    if table is not None:
        return table
    declared = prepared.declared_labels.get(probabilities)
    if declared is not None and len(declared) == classes:
        return declared
    return [str(index) for index in range(classes)]


def _checked(values: list[str], classes: int, where: str, source: str) -> list[str] | list[int]:
    """The given labels, checked; when every one is a decimal integer ("1", "-3", not "01"),
    integer class labels: `--labels 1,2,3` names the classes 1, 2 and 3, not indices."""
    if len(values) != classes:
        raise OnnxImportError(
            f"{where}: {source} lists {len(values)} labels, but the softmax yields {classes} classes; "
            f"give exactly {classes} labels"
        )
    if len(set(values)) != len(values):
        raise OnnxImportError(f"{where}: {source} repeats a label; class labels must be unique")
    if all(_INTEGER.fullmatch(value) for value in values):
        return [int(value) for value in values]
    return values


def _parse_labels(text: str) -> list[str]:
    stripped = text.strip()
    if stripped.startswith("["):
        try:
            parsed = json.loads(stripped)
        except json.JSONDecodeError:
            parsed = None
        if isinstance(parsed, list):
            return [str(value) for value in parsed]
    return [part.strip() for part in stripped.split(",")]


def _lookup_table(
    prepared: PreparedGraph, label_nodes: list[onnx.NodeProto], classes: int
) -> list[str] | list[int] | None:
    for node in label_nodes:
        for name in node.input:
            value = prepared.constants.get(name)
            if value is None or value.size != classes or value.ndim != 1:
                continue
            if value.dtype.kind in "OSU":
                return [v.decode() if isinstance(v, bytes) else str(v) for v in value.tolist()]
            if value.dtype.kind == "i" and node.op_type in ("Gather", "ArrayFeatureExtractor"):
                return [int(v) for v in value.astype(np.int64).tolist()]
    return None


def _taken_names(prepared: PreparedGraph) -> set[str]:
    taken = set(prepared.types) | set(prepared.input_names())
    taken.update(name for node in prepared.nodes for name in node.output)
    return taken


def _free_label_name(prepared: PreparedGraph) -> str:
    taken = _taken_names(prepared)
    for candidate in _DEFAULT_LABEL_NAMES:
        if candidate not in taken:
            return candidate
    index = 1
    while f"label_{index}" in taken:
        index += 1
    return f"label_{index}"
