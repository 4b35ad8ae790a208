"""A k-NN classifier spec as one standard ONNX inference model.

The graph is the feature extractor (converted like any network), then: distances to every
stored example with one MatMul against the examples stored transposed, TopK (ONNX breaks ties
by the lower index, i.e. the earlier stored example), the weighted vote in float64 added
neighbour by neighbour (the order scikit-learn adds them in, so equal sums compare equal), and
ArgMax over the labels in tie-rule order (ArgMax takes the first maximum), then a label lookup.
mlspec.reference.knn computes the same thing in numpy.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
from onnx import TensorProto, helper, numpy_helper

from mlspec._proto import knn_pb2, model_pb2
from mlspec.convert.graph import IR_VERSION, build_graph, input_info
from mlspec.spec import knn as spec_knn
from mlspec.spec.errors import MlspecError
from mlspec.spec.hyper import violation
from mlspec.spec.onnx_opsets import OPSET


class _Graph:
    """Nodes and initializers appended to a graph, with generated tensor names."""

    def __init__(self, graph: onnx.GraphProto) -> None:
        self.graph = graph
        self._constants: set[str] = set()

    def const(self, name: str, array: npt.NDArray[Any]) -> str:
        """An initializer; a name asked for again returns the first one (same value by construction)."""
        full = f"knn/{name}"
        if full not in self._constants:
            self._constants.add(full)
            self.graph.initializer.append(numpy_helper.from_array(array, full))
        return full

    def op(self, kind: str, inputs: list[str], name: str, outputs: int = 1, **attrs: Any) -> list[str]:
        names = [f"knn/{name}" if outputs == 1 else f"knn/{name}_{i}" for i in range(outputs)]
        self.graph.node.append(helper.make_node(kind, inputs, names, name=f"knn/{name}", **attrs))
        return names

    def one(self, kind: str, inputs: list[str], name: str, **attrs: Any) -> str:
        return self.op(kind, inputs, name, **attrs)[0]


def knn_to_onnx(model: model_pb2.Model, *, k: int | None = None) -> onnx.ModelProto:
    """The inference model of a k-NN spec; `k` (default: the spec's) must be an allowed value."""
    spec_knn.require_knn(model, "knn_to_onnx")
    knn = model.knn_classifier
    chosen = knn.number_of_neighbors.default_value if k is None else k
    message = violation("k", knn.number_of_neighbors, chosen) if k is not None else None
    if message:
        raise MlspecError(f"knn_classifier.number_of_neighbors: {message}")
    extractor = spec_knn.extractor_model(model)
    if extractor is None:
        onnx_model = onnx.ModelProto(ir_version=IR_VERSION)
        onnx_model.opset_import.append(helper.make_opsetid("", OPSET))
        onnx_model.graph.input.extend(input_info(f) for f in model.description.inputs)
    else:
        onnx_model = build_graph(extractor, training=False).onnx_model
        del onnx_model.graph.output[:]
    onnx_model.producer_name = "mlspec"
    onnx_model.graph.name = model.metadata.name or "mlspec_knn"
    g = _Graph(onnx_model.graph)
    string_labels = spec_knn.has_string_labels(model)
    label_type = TensorProto.STRING if string_labels else TensorProto.INT64
    labels = spec_knn.label_values(model)
    info = model.classifier
    count = spec_knn.example_count(model)
    if count == 0:
        _empty(g, model, labels)
    else:
        _vote(g, model, min(chosen, count))
    onnx_model.graph.output.extend(
        [
            helper.make_tensor_value_info(info.predicted_feature_name, label_type, ["batch"]),
            helper.make_tensor_value_info(
                info.predicted_probabilities_name, TensorProto.FLOAT, ["batch", len(labels)]
            ),
        ]
    )
    return onnx_model


def _label_table(labels: Sequence[spec_knn.Label | None], string_labels: bool) -> npt.NDArray[Any]:
    return np.array(labels, dtype=object if string_labels else np.int64)


def _distances(g: _Graph, kind: int, features: str, stored: npt.NDArray[np.float32]) -> str:
    squares = g.one("Mul", [features, features], "squares")
    norms = g.one(
        "ReduceSum", [squares, g.const("axis1", np.array([1], np.int64))], "squared_norms", keepdims=1
    )
    if kind == knn_pb2.KNN_DISTANCE_COSINE:
        from mlspec.reference.knn import unit_rows  # noqa: PLC0415 (one formula for both)

        length = g.one("Sqrt", [norms], "norms")
        zero = g.one("Equal", [length, g.const("zero", np.array(0, np.float32))], "is_zero")
        safe = g.one("Where", [zero, g.const("one", np.array(1, np.float32)), length], "safe_norms")
        unit = g.one("Div", [features, safe], "unit")
        table = np.ascontiguousarray(unit_rows(stored).T)
        similarity = g.one("MatMul", [unit, g.const("unit_examples_t", table)], "similarity")
        distance = g.one("Sub", [g.const("one_f", np.array(1, np.float32)), similarity], "one_minus")
        return g.one(
            "Clip",
            [distance, g.const("lo", np.array(0, np.float32)), g.const("hi", np.array(2, np.float32))],
            "distances",
        )
    scaled = np.ascontiguousarray(np.float32(-2) * stored.T)
    cross = g.one("MatMul", [features, g.const("examples_t_times_minus_2", scaled)], "cross")
    partial = g.one("Add", [norms, cross], "partial")
    stored_norms = (stored * stored).sum(axis=1)[None].astype(np.float32)
    total = g.one("Add", [partial, g.const("example_squared_norms", stored_norms)], "sum")
    return g.one("Max", [total, g.const("zero", np.array(0, np.float32))], "distances")


def _vote(g: _Graph, model: model_pb2.Model, k: int) -> None:
    knn = model.knn_classifier
    labels = spec_knn.label_values(model)
    order = spec_knn.vote_order(model)
    position = np.empty(len(labels), np.int64)
    position[order] = np.arange(len(labels))
    distance = _distances(g, knn.distance, knn.feature_name, spec_knn.examples(model))
    values, indices = g.op(
        "TopK",
        [distance, g.const("k", np.array([k], np.int64))],
        "topk",
        outputs=2,
        axis=1,
        largest=0,
        sorted=1,
    )
    near = g.one("Cast", [values], "near64", to=TensorProto.DOUBLE)
    if knn.distance == knn_pb2.KNN_DISTANCE_EUCLIDEAN:
        near = g.one("Sqrt", [near], "near_distances")
    voters = g.one(
        "Gather",
        [g.const("voter_of_example", position[spec_knn.example_labels(model)]), indices],
        "voters",
        axis=0,
    )
    # One-hot by comparison: ORT's OneHot has no float64 output.
    column3 = g.one("Unsqueeze", [voters, g.const("axis2", np.array([2], np.int64))], "voters3")
    matches = g.one(
        "Equal", [column3, g.const("label_positions", np.arange(len(labels), dtype=np.int64))], "matches"
    )
    onehot = g.one("Cast", [matches], "onehot", to=TensorProto.DOUBLE)
    if knn.weighting == knn_pb2.KNN_WEIGHTING_INVERSE_DISTANCE:
        inverse = g.one("Div", [g.const("one_d", np.array(1.0)), near], "inverse")
        exact = g.one("IsInf", [inverse], "exact")
        exact64 = g.one("Cast", [exact], "exact64", to=TensorProto.DOUBLE)
        any_exact = g.one(
            "ReduceMax", [exact64, g.const("axis1", np.array([1], np.int64))], "any_exact", keepdims=1
        )
        rows = g.one("Greater", [any_exact, g.const("zero_d", np.array(0.0))], "exact_rows")
        weights = g.one("Where", [rows, exact64, inverse], "weights")
        column = g.one("Unsqueeze", [weights, g.const("axis2", np.array([2], np.int64))], "weights3")
        onehot = g.one("Mul", [onehot, column], "weighted")
    votes = ""
    for i in range(k):
        share = g.one("Gather", [onehot, g.const(f"i{i}", np.array(i, np.int64))], f"vote{i}", axis=1)
        votes = share if i == 0 else g.one("Add", [votes, share], f"votes{i}")
    total = g.one("ReduceSum", [votes, g.const("axis1", np.array([1], np.int64))], "vote_total", keepdims=1)
    shares = g.one("Div", [votes, total], "shares")
    winner = g.one("ArgMax", [shares], "winner", axis=1, keepdims=0)
    table = _label_table([labels[i] for i in order], spec_knn.has_string_labels(model))
    info = model.classifier
    g.graph.node.append(
        helper.make_node(
            "Gather",
            [g.const("labels_in_vote_order", table), winner],
            [info.predicted_feature_name],
            name="knn/label",
            axis=0,
        )
    )
    in_label_order = g.one("Gather", [shares, g.const("vote_position", position)], "probabilities64", axis=1)
    g.graph.node.append(
        helper.make_node(
            "Cast",
            [in_label_order],
            [info.predicted_probabilities_name],
            name="knn/probabilities",
            to=TensorProto.FLOAT,
        )
    )


def _empty(g: _Graph, model: model_pb2.Model, labels: spec_knn.Labels) -> None:
    """No stored examples: every row gets the default label and all-zero probabilities."""
    info = model.classifier
    batch = g.one("Shape", [model.knn_classifier.feature_name], "batch", end=1)
    default = _label_table([spec_knn.default_label(model)], spec_knn.has_string_labels(model))
    g.graph.node.append(
        helper.make_node(
            "Expand",
            [g.const("default_label", default), batch],
            [info.predicted_feature_name],
            name="knn/label",
        )
    )
    shape = g.one(
        "Concat",
        [batch, g.const("label_count", np.array([len(labels)], np.int64))],
        "probability_shape",
        axis=0,
    )
    zeros = g.const("zeros", np.zeros((1, len(labels)), np.float32))
    g.graph.node.append(
        helper.make_node(
            "Expand", [zeros, shape], [info.predicted_probabilities_name], name="knn/probabilities"
        )
    )
