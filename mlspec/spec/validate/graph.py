"""Graph rules: version, names, kinds, input counts, definition order, cycles and outputs."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from mlspec._proto import layers_pb2, model_pb2
from mlspec.spec.errors import Problem, layer_ref
from mlspec.spec.io import SPEC_VERSION
from mlspec.spec.kinds import KINDS, supported_kinds
from mlspec.spec.validate.context import Context, feature_where, layer_where


def check(context: Context) -> list[Problem]:
    return [
        *_version(context),
        *_layer_names(context),
        *_name_lengths(context),
        *_kinds_and_arity(context),
        *_output_names(context),
        *_definition_order(context),
        *_model_outputs(context),
    ]


def _version(context: Context) -> list[Problem]:
    return version_problems(context.model)


def version_problems(model: model_pb2.Model) -> list[Problem]:
    version = model.spec_version
    if version == 0:
        return [Problem("spec_version", "is not set", f"set spec_version to {SPEC_VERSION}")]
    if not 1 <= version <= SPEC_VERSION:
        return [
            Problem(
                "spec_version",
                f"{version} is not supported; this mlspec reads versions 1..{SPEC_VERSION}",
                "upgrade mlspec or write the spec with a supported version",
            )
        ]
    return []


def _layer_names(context: Context) -> list[Problem]:
    layers = context.model.network.layers
    problems: list[Problem] = []
    if not layers:
        problems.append(Problem("network.layers", "the network has no layers", "add at least one layer"))
    for index, layer in enumerate(layers):
        if not layer.name:
            problems.append(Problem(layer_ref("", index), "has no name", "give every layer a unique name"))
    counts = Counter(layer.name for layer in layers if layer.name)
    for name, count in counts.items():
        if count > 1:
            problems.append(
                Problem(layer_ref(name), f"the name is used by {count} layers", "rename all but one")
            )
    return problems


MAX_NAME_CHARACTERS = 1024
"""Budget for every name and label: a 20 MB layer name made convert take 7.3 GB, copied into
every node, message and initializer name that quotes it."""


def _name_lengths(context: Context) -> list[Problem]:
    model = context.model
    named: list[tuple[str, str]] = []
    for index, layer in enumerate(model.network.layers):
        where = layer_where(layer, index)
        named += [(f"{where}.name", layer.name)]
        named += [(f"{where}.inputs[{i}]", name) for i, name in enumerate(layer.inputs)]
        named += [(f"{where}.outputs[{i}]", name) for i, name in enumerate(layer.outputs)]
    description = model.description
    for section in ("inputs", "outputs", "training_inputs"):
        features = getattr(description, section)
        named += [(feature_where(section, f.name, i), f.name) for i, f in enumerate(features)]
    labels = model.classifier.string_labels.values if model.HasField("classifier") else []
    named += [(f"classifier.string_labels[{i}]", label) for i, label in enumerate(labels)]
    return [
        Problem(
            where,
            f"is {len(name)} characters long, over the limit of {MAX_NAME_CHARACTERS}",
            f"use a name of at most {MAX_NAME_CHARACTERS} characters",
        )
        for where, name in named
        if len(name) > MAX_NAME_CHARACTERS
    ]


def _kinds_and_arity(context: Context) -> list[Problem]:
    problems: list[Problem] = []
    for index, layer in enumerate(context.model.network.layers):
        where = layer_where(layer, index)
        kind = layer.WhichOneof("kind")
        if kind is None:
            problems.append(Problem(where, "no kind is set", f"set one of: {supported_kinds()}"))
            continue
        info = KINDS[kind]
        count = len(layer.inputs)
        if count < info.min_inputs or (info.max_inputs is not None and count > info.max_inputs):
            allowed = _count_text(info.min_inputs, info.max_inputs)
            problems.append(
                Problem(f"{where}.inputs", f"{kind} takes {allowed}, got {count}", "fix the layer's inputs")
            )
        outputs = len(layer.outputs)
        if kind != "onnx_node" and outputs != 1:
            problems.append(
                Problem(f"{where}.outputs", f"{kind} has exactly 1 output, got {outputs}", "list one output")
            )
        elif outputs == 0:
            problems.append(Problem(f"{where}.outputs", "has no outputs", "name the node's outputs"))
        if any(not name for name in (*layer.inputs, *layer.outputs)):
            problems.append(Problem(where, "has an empty tensor name", "name every input and output"))
    return problems


def _count_text(low: int, high: int | None) -> str:
    if high is None:
        return f"{low} or more inputs"
    if low == high:
        return f"exactly {low} input{'s' if low != 1 else ''}"
    return f"{low} to {high} inputs"


def _output_names(context: Context) -> list[Problem]:
    problems: list[Problem] = []
    seen: dict[str, str] = {}
    for index, layer in enumerate(context.model.network.layers):
        where = layer_where(layer, index)
        for name in layer.outputs:
            if not name:
                continue
            if name in context.input_names:
                problems.append(
                    Problem(f"{where}.outputs", f'"{name}" is also a model input', "rename the output")
                )
            elif name in seen:
                problems.append(
                    Problem(
                        f"{where}.outputs",
                        f'"{name}" is already an output of {seen[name]}',
                        "give every tensor one producer; rename one of the outputs",
                    )
                )
            seen.setdefault(name, where)
    return problems


def _definition_order(context: Context) -> list[Problem]:
    """Every input must exist before its layer runs; a later producer is either a cycle or misordering."""
    layers = context.model.network.layers
    cycles = _cycles(layers, context.producer_index)
    in_cycle = {index for cycle in cycles for index in cycle}
    problems = [
        Problem(
            layer_where(layers[cycle[0]], cycle[0]),
            "is part of a cycle: " + " -> ".join(layer_where(layers[i], i) for i in [*cycle, cycle[0]]),
            "break the cycle; a layer may only read tensors produced before it",
        )
        for cycle in cycles
    ]
    training_only = context.training_input_names - context.input_names
    for index, layer in enumerate(layers):
        where = layer_where(layer, index)
        for name in layer.inputs:
            if not name or name in context.input_names:
                continue
            producer = context.producer_index.get(name)
            if producer is None:
                if name in training_only:
                    problems.append(
                        Problem(
                            f"{where}.inputs",
                            f'"{name}" is a training input, which is absent at prediction time',
                            "read a model input or a layer output instead",
                        )
                    )
                else:
                    problems.append(
                        Problem(
                            f"{where}.inputs",
                            f'"{name}" is not a model input nor any layer output',
                            "add the model input or fix the name",
                        )
                    )
            elif producer >= index and not (index in in_cycle and producer in in_cycle):
                problems.append(
                    Problem(
                        f"{where}.inputs",
                        f'"{name}" is produced later, by {layer_where(layers[producer], producer)}',
                        "order the layers so that each comes after the layers it reads",
                    )
                )
    return problems


def _cycles(layers: Sequence[layers_pb2.Layer], producer_index: dict[str, int]) -> list[list[int]]:
    """Strongly connected groups of layers (Tarjan), each listed in dependency order."""
    edges = [sorted({producer_index[n] for n in layer.inputs if n in producer_index}) for layer in layers]
    order: dict[int, int] = {}
    low: dict[int, int] = {}
    stack: list[int] = []
    on_stack: set[int] = set()
    found: list[list[int]] = []

    def visit(start: int) -> None:
        # Iterative depth-first search, so deep networks cannot hit Python's recursion limit.
        work = [(start, 0)]
        order[start] = low[start] = len(order)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, edge = work[-1]
            if edge < len(edges[node]):
                work[-1] = (node, edge + 1)
                nxt = edges[node][edge]
                if nxt not in order:
                    order[nxt] = low[nxt] = len(order)
                    stack.append(nxt)
                    on_stack.add(nxt)
                    work.append((nxt, 0))
                elif nxt in on_stack:
                    low[node] = min(low[node], order[nxt])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == order[node]:
                group: list[int] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1 or node in edges[node]:
                    found.append(sorted(group))

    for index in range(len(layers)):
        if index not in order:
            visit(index)
    return found


def _model_outputs(context: Context) -> list[Problem]:
    """Declared outputs come from layers, except a classifier's label, which the converter adds."""
    model = context.model
    label = model.classifier.predicted_feature_name if model.HasField("classifier") else ""
    problems: list[Problem] = []
    for index, feature in enumerate(model.description.outputs):
        if feature.name not in context.producer_index and not (label and feature.name == label):
            problems.append(
                Problem(
                    feature_where("outputs", feature.name, index),
                    "is not produced by any layer",
                    "name a layer output, or remove the declared output",
                )
            )
    return problems
