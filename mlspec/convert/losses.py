"""The spec's loss layers as an ONNX subgraph appended to the training graph.

Every loss reduces to a rank-0 mean; the training loss is sum(weight_i * loss_i) under one
fixed output name (ORT's own loss blocks draw names from a process-wide counter, which would
make the manifest depend on how many models a process converted before). Only ops with CPU
gradients in onnxruntime-training 1.19.2 are used, in numerically stable forms:

- categorical cross-entropy on logits x [batch, classes] with int64 class indices y ([batch] or
  [batch, 1]): mean(-log_softmax(x)[y]) through SoftmaxCrossEntropyLoss. On probabilities, which
  validation requires to come from a softmax, the same formula runs on that softmax's logits, so
  no log is taken of a probability rounded to 0.
- mean squared error: mean((x - t)^2).
- binary cross-entropy on probabilities: -mean(t log(max(p, PROBABILITY_FLOOR))
  + (1 - t) log(max(1 - p, PROBABILITY_FLOOR)));
  on logits: mean(max(x, 0) - x t + log(1 + exp(-|x|))).
- L1: mean(|x - t|).
- Huber(delta, 0 meaning 1): with a = |x - t| and q = min(a, delta): mean(q^2 / 2 + delta (a - q)),
  which is a^2/2 inside the threshold and delta (a - delta/2) beyond it, without a branch.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from mlspec._proto import model_pb2, tensor_pb2, training_pb2
from mlspec.convert.manifest import LossEntry
from mlspec.spec.errors import MlspecError, loss_ref

LOSS_OUTPUT = "mlspec.loss"
PROBABILITY_FLOOR = 1e-12
_FLOAT_TARGET_KINDS = ("mean_squared_error", "binary_cross_entropy", "l1", "huber")


@dataclass
class LossGraph:
    """Nodes, constants and target inputs to append to a forward graph; the loss is LOSS_OUTPUT."""

    nodes: list[onnx.NodeProto] = field(default_factory=list)
    initializers: list[onnx.TensorProto] = field(default_factory=list)
    target_inputs: list[onnx.ValueInfoProto] = field(default_factory=list)
    entries: list[LossEntry] = field(default_factory=list)

    def append_to(self, graph: onnx.GraphProto) -> str:
        known = {value.name for value in graph.input}
        graph.input.extend(value for value in self.target_inputs if value.name not in known)
        graph.initializer.extend(self.initializers)
        graph.node.extend(self.nodes)
        return LOSS_OUTPUT


class _Builder:
    def __init__(self, graph: LossGraph, prefix: str) -> None:
        self.graph = graph
        self.prefix = prefix

    def op(self, op_type: str, inputs: list[str], name: str, outputs: int = 1, **attrs: Any) -> str:
        names = [f"{self.prefix}/{name}"] + [f"{self.prefix}/{name}_{i}" for i in range(1, outputs)]
        self.graph.nodes.append(helper.make_node(op_type, inputs, names, name=names[0], **attrs))
        return names[0]

    def const(self, name: str, value: float | list[int], dtype: type = np.float32) -> str:
        full = f"{self.prefix}/{name}"
        self.graph.initializers.append(numpy_helper.from_array(np.array(value, dtype=dtype), full))
        return full

    def mean(self, tensor: str) -> str:
        return self.op("ReduceMean", [tensor], "mean", keepdims=0)

    def safe_log(self, tensor: str, name: str) -> str:
        floor = self.const(f"{name}_floor", PROBABILITY_FLOOR)
        return self.op("Log", [self.op("Max", [tensor, floor], f"{name}_floored")], f"{name}_log")


def build_losses(model: model_pb2.Model, logits_of: Mapping[str, str]) -> LossGraph:
    """Build the weighted loss sum; raises naming the loss when its input or target cannot work."""
    losses = list(model.update_parameters.loss_layers)
    if not losses:
        raise MlspecError("update_parameters.loss_layers: an updatable model needs at least one loss")
    targets = {feature.name: feature for feature in model.description.training_inputs}
    result = LossGraph()
    terms: list[str] = []
    for index, loss in enumerate(losses):
        where = loss_ref(loss.name, index)
        kind = loss.WhichOneof("kind")
        feature = targets.get(loss.target)
        if kind is None:
            kinds = ", ".join(("categorical_cross_entropy", *_FLOAT_TARGET_KINDS))
            raise MlspecError(f"{where}: no loss kind set; use one of {kinds}")
        if feature is None:
            names = ", ".join(targets) or "(none)"
            raise MlspecError(
                f"{where}.target: {loss.target!r} is not a training input; training inputs: {names}"
            )
        build = _Builder(result, f"loss/{loss.name or index}")
        if kind == "categorical_cross_entropy":
            value = _cross_entropy(build, loss, logits_of, feature, where)
            result.target_inputs.append(_target_value_info(feature, integer=True, where=where))
        else:
            value = _ELEMENTWISE[kind](build, loss.input, loss.target, loss)
            result.target_inputs.append(_target_value_info(feature, integer=False, where=where))
        weight = loss.weight if loss.HasField("weight") else 1.0
        terms.append(
            value if weight == 1.0 else build.op("Mul", [value, build.const("weight", weight)], "weighted")
        )
        result.entries.append(_entry(loss, kind, weight))
    # A chain of Add rather than Sum: ORT 1.19.2 has no gradient for Sum.
    total = terms[0]
    for index, term in enumerate(terms[1:], start=1):
        total = _Builder(result, "loss/total").op("Add", [total, term], f"partial_{index}")
    result.nodes.append(helper.make_node("Identity", [total], [LOSS_OUTPUT], name="loss/total"))
    result.target_inputs = list({value.name: value for value in result.target_inputs}.values())
    return result


def _entry(loss: training_pb2.LossLayer, kind: str, weight: float) -> LossEntry:
    message = getattr(loss, kind)
    return LossEntry(
        name=loss.name,
        kind=kind,
        weight=float(weight),
        input=loss.input,
        target=loss.target,
        from_logits=bool(getattr(message, "from_logits", False)),
        delta=float(huber_delta(loss)) if kind == "huber" else 0.0,
    )


def huber_delta(loss: training_pb2.LossLayer) -> float:
    return loss.huber.delta or 1.0


def _cross_entropy(
    build: _Builder,
    loss: training_pb2.LossLayer,
    logits_of: Mapping[str, str],
    feature: tensor_pb2.FeatureDescription,
    where: str,
) -> str:
    logits = loss.input if loss.categorical_cross_entropy.from_logits else logits_of.get(loss.input)
    if logits is None:
        raise MlspecError(
            f"{where}.input: {loss.input!r} is not the output of a softmax layer; "
            "set from_logits, or put the loss on the softmax output"
        )
    labels = loss.target
    if feature.type.WhichOneof("kind") == "tensor" and len(feature.type.tensor.shape) > 1:  # [N, 1] -> [N]
        labels = build.op("Reshape", [loss.target, build.const("flat", [-1], np.int64)], "labels")
    return build.op("SoftmaxCrossEntropyLoss", [logits, labels], "value", outputs=2, reduction="mean")


def _mse(build: _Builder, x: str, t: str, loss: training_pb2.LossLayer) -> str:
    diff = build.op("Sub", [x, t], "diff")
    return build.mean(build.op("Mul", [diff, diff], "square"))


def _l1(build: _Builder, x: str, t: str, loss: training_pb2.LossLayer) -> str:
    return build.mean(build.op("Abs", [build.op("Sub", [x, t], "diff")], "abs"))


def _huber(build: _Builder, x: str, t: str, loss: training_pb2.LossLayer) -> str:
    delta = build.const("delta", huber_delta(loss))
    size = build.op("Abs", [build.op("Sub", [x, t], "diff")], "abs")
    inside = build.op("Min", [size, delta], "inside")
    half_square = build.op(
        "Mul", [build.op("Mul", [inside, inside], "square"), build.const("half", 0.5)], "half_square"
    )
    linear = build.op("Mul", [build.op("Sub", [size, inside], "beyond"), delta], "linear")
    return build.mean(build.op("Add", [half_square, linear], "elementwise"))


def _bce(build: _Builder, x: str, t: str, loss: training_pb2.LossLayer) -> str:
    if loss.binary_cross_entropy.from_logits:
        positive = build.op("Relu", [x], "positive")
        product = build.op("Mul", [x, t], "product")
        decay = build.op("Exp", [build.op("Neg", [build.op("Abs", [x], "abs")], "minus_abs")], "exp")
        softplus = build.op("Log", [build.op("Add", [decay, build.const("one", 1.0)], "one_plus")], "log1p")
        return build.mean(
            build.op("Add", [build.op("Sub", [positive, product], "linear"), softplus], "elementwise")
        )
    one = build.const("one", 1.0)
    log_p = build.safe_log(x, "p")
    log_q = build.safe_log(build.op("Sub", [one, x], "q"), "q")
    positive = build.op("Mul", [t, log_p], "positive")
    negative = build.op("Mul", [build.op("Sub", [one, t], "one_minus_t"), log_q], "negative")
    return build.op("Neg", [build.mean(build.op("Add", [positive, negative], "sum"))], "value")


_ELEMENTWISE = {"mean_squared_error": _mse, "l1": _l1, "huber": _huber, "binary_cross_entropy": _bce}


def _target_value_info(
    feature: tensor_pb2.FeatureDescription, *, integer: bool, where: str
) -> onnx.ValueInfoProto:
    which = feature.type.WhichOneof("kind")
    if integer:
        if which in ("string_type", "int64_type"):
            return helper.make_tensor_value_info(feature.name, TensorProto.INT64, ["batch"])
        if which == "tensor" and feature.type.tensor.dtype in (tensor_pb2.INT64, tensor_pb2.INT32):
            return helper.make_tensor_value_info(feature.name, TensorProto.INT64, _dims(feature.type.tensor))
        raise MlspecError(
            f"{where}.target: training input {feature.name!r} must hold class labels "
            "(string, int64, or an int64 tensor) for categorical cross-entropy"
        )
    if which == "tensor" and feature.type.tensor.dtype in (
        tensor_pb2.FLOAT32,
        tensor_pb2.FLOAT16,
        tensor_pb2.DOUBLE,
    ):
        return helper.make_tensor_value_info(feature.name, TensorProto.FLOAT, _dims(feature.type.tensor))
    raise MlspecError(
        f"{where}.target: training input {feature.name!r} must be a float tensor shaped like the loss input"
    )


def _dims(tensor_type: tensor_pb2.TensorType) -> list[int | str | None]:
    dims: list[int | str | None] = []
    for dim in tensor_type.shape:
        which = dim.WhichOneof("value")
        dims.append(dim.size if which == "size" else dim.symbol if which == "symbol" else None)
    return dims
