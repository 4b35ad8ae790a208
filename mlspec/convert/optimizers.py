"""The spec's optimizer with PyTorch's exact semantics, split between the training graph and ORT.

Semantics (t counts optimizer steps from 1; g is the mini-batch gradient of the summed loss):

- clipping by norm (torch.nn.utils.clip_grad_norm_): total = sqrt(sum of all g^2 over every
  trainable tensor); every g is scaled by min(1, clip_norm / (total + 1e-6)).
- clipping by value (clip_grad_value_): every element of g is clamped to [-clip_value, clip_value].
- SGD (torch.optim.SGD, dampening 0): d = g + weight_decay * p; with momentum, buf = d on the
  first step and momentum * buf + d after, then d = d + momentum * buf (nesterov) or d = buf;
  p = p - lr * d.
- Adam (torch.optim.Adam): g = g + weight_decay * p; m = beta1 m + (1 - beta1) g;
  v = beta2 v + (1 - beta2) g^2; p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps).
- AdamW (torch.optim.AdamW): p = p * (1 - lr * weight_decay), then the Adam step without the L2 term.

- FedProx's proximal term (mu/2) * ||p - anchor||^2, anchor being the weights training started
  from (the round's global model): its gradient mu * (p - anchor) joins g before anything else,
  exactly as if the term were part of the loss (so clipping sees it too); the reported loss
  stays the data loss, comparable with evaluation's.

Clipping happens before weight decay, as in a PyTorch loop (backward, clip, step).

Stock ORT has two optimizer nodes: SGDOptimizerV2 (p = p - lr * g) and AdamWOptimizer.
AdamWOptimizer with adam_mode=0 is PyTorch's AdamW (onnxblock hard-codes adam_mode=1, the
Hugging Face form, which puts eps inside the bias correction and decays after the update).
Everything else is a transformation of the gradient, so it goes into the training graph between
the gradient and ORT's gradient accumulator: clipping, the L2 term, and momentum with its buffer
kept as checkpoint state and updated in place by InPlaceAccumulatorV2 (overwrite mode). The
optimizer model then applies stock SGD (or AdamW with weight decay 0 for Adam) to the
transformed gradient. The whole update thus runs inside ORT, with no Python work per parameter,
and a plain ORT loop reproduces PyTorch exactly. The values those graph nodes read (momentum,
nesterov, weight_decay, clip_norm, clip_value) are float32 [1] checkpoint parameters, so an
override is one assignment; beta1, beta2, eps and AdamW's weight decay are attributes of
optimizer_model.onnx, so an override regenerates that small model against the same state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from mlspec._proto import model_pb2, parameters_pb2
from mlspec.convert.manifest import Hyperparameter
from mlspec.spec.defaults import unset_default

HYPER_PREFIX = "mlspec.hyper/"
MOMENTUM_PREFIX = "mlspec.momentum/"
ANCHOR_PREFIX = "mlspec.anchor/"
STATE_UPDATED_OUTPUT = "mlspec.state_updated"
_CLIP_NORM_EPS = 1e-6


def _constrained(
    param: parameters_pb2.DoubleParameter | parameters_pb2.Int64Parameter, kind: str
) -> Hyperparameter:
    which = param.WhichOneof("allowed")
    cast = float if kind == "double" else int
    return Hyperparameter(
        type=kind,
        default=cast(param.default_value),
        range=[cast(param.range.min), cast(param.range.max)] if which == "range" else None,
        set=[cast(v) for v in param.set.values] if which == "set" else None,
    )


def _fixed(value: float, kind: str = "double") -> Hyperparameter:
    return Hyperparameter(type=kind, default=value, set=[value])


def _read(message: object, field_name: str, kind: str, fallback: float) -> Hyperparameter:
    if message is not None and message.HasField(field_name):  # type: ignore[attr-defined]
        return _constrained(getattr(message, field_name), kind)
    return _fixed(int(fallback) if kind == "int" else fallback, kind)


@dataclass(frozen=True)
class OptimizerPlan:
    """What the spec asks for and where each part runs (training graph or optimizer model)."""

    kind: str
    hyperparameters: dict[str, Hyperparameter]
    clipping: str | None

    @property
    def ort_kind(self) -> str:
        return "sgd" if self.kind == "sgd" else "adamw"

    def may_be_nonzero(self, name: str) -> bool:
        entry = self.hyperparameters.get(name)
        if entry is None:
            return False
        values = [entry.default, *(entry.range or []), *(entry.set or [])]
        return any(float(v) != 0.0 for v in values)

    @property
    def graph_settings(self) -> list[str]:
        """Hyperparameters read by nodes in the training graph, in a stable order."""
        names: list[str] = ["proximal_mu"] if self.has_proximal else []
        if self.clipping == "norm":
            names.append("clip_norm")
        if self.clipping == "value":
            names.append("clip_value")
        if self.kind in ("sgd", "adam") and self.may_be_nonzero("weight_decay"):
            names.append("weight_decay")
        if self.has_momentum:
            names += ["momentum", "nesterov"]
        return names

    @property
    def has_proximal(self) -> bool:
        """Whether the spec lets mu be non-zero: only then does the graph carry the term and anchors."""
        return self.may_be_nonzero("proximal_mu")

    @property
    def has_momentum(self) -> bool:
        return self.kind == "sgd" and self.may_be_nonzero("momentum")

    def model_settings(self, values: Mapping[str, float | int | bool]) -> dict[str, float]:
        return optimizer_model_settings(self.kind, values)

    def defaults(self) -> dict[str, float | int | bool]:
        return {name: entry.default for name, entry in self.hyperparameters.items()}


def optimizer_model_settings(kind: str, values: Mapping[str, float | int | bool]) -> dict[str, float]:
    """The attributes baked into optimizer_model.onnx for a spec optimizer kind and its values."""
    if kind == "sgd":
        return {}
    return {
        "beta1": float(values["beta1"]),
        "beta2": float(values["beta2"]),
        "eps": float(values["eps"]),
        # Adam's weight decay is an L2 term added in the training graph, not AdamW's decay.
        "weight_decay": float(values["weight_decay"]) if kind == "adamw" else 0.0,
    }


def plan_optimizer(model: model_pb2.Model) -> OptimizerPlan:
    update = model.update_parameters
    kind = update.optimizer.WhichOneof("kind") or "sgd"
    message = getattr(update.optimizer, kind)
    hyper: dict[str, Hyperparameter] = {
        "learning_rate": _read(message, "learning_rate", "double", unset_default("learning_rate")),
        "mini_batch_size": _read(message, "mini_batch_size", "int", unset_default("mini_batch_size")),
    }
    if kind == "sgd":
        hyper["momentum"] = _read(message, "momentum", "double", unset_default("momentum"))
        nesterov = (
            message.nesterov.default_value if message.HasField("nesterov") else unset_default("nesterov")
        )
        hyper["nesterov"] = Hyperparameter(type="bool", default=bool(nesterov))
        hyper["weight_decay"] = _read(message, "weight_decay", "double", unset_default("weight_decay"))
    else:
        for name in ("beta1", "beta2", "eps"):
            hyper[name] = _read(message, name, "double", unset_default(name))
        hyper["weight_decay"] = _read(message, "weight_decay", "double", unset_default("weight_decay", kind))
    clipping = update.clipping.WhichOneof("kind") if update.HasField("clipping") else None
    if clipping == "max_norm":
        hyper["clip_norm"] = _constrained(update.clipping.max_norm, "double")
    elif clipping == "max_value":
        hyper["clip_value"] = _constrained(update.clipping.max_value, "double")
    hyper["epochs"] = _read(update, "epochs", "int", unset_default("epochs"))
    shuffle = update.shuffle.default_value if update.HasField("shuffle") else unset_default("shuffle")
    hyper["shuffle"] = Hyperparameter(type="bool", default=bool(shuffle))
    hyper["seed"] = _read(update, "seed", "int", unset_default("seed"))
    hyper["proximal_mu"] = _read(update, "proximal_mu", "double", unset_default("proximal_mu"))
    clip_kind = {"max_norm": "norm", "max_value": "value"}.get(clipping or "")
    return OptimizerPlan(kind=kind, hyperparameters=hyper, clipping=clip_kind)


def hyper_parameter_name(name: str) -> str:
    return f"{HYPER_PREFIX}{name}"


def momentum_buffer_name(parameter: str) -> str:
    return f"{MOMENTUM_PREFIX}{parameter}"


def anchor_name(parameter: str) -> str:
    """The tensor holding the proximal term's anchor (FedProx's global weights) for `parameter`."""
    return f"{ANCHOR_PREFIX}{parameter}"


def anchor_names(plan: OptimizerPlan, trainable: list[str]) -> dict[str, str]:
    return {name: anchor_name(name) for name in trainable} if plan.has_proximal else {}


def hyper_value(value: float | int | bool) -> np.ndarray:
    return np.array([float(value)], dtype=np.float32)


def state_initializers(plan: OptimizerPlan, trainable: dict[str, onnx.TensorProto]) -> list[onnx.TensorProto]:
    """Checkpoint tensors the gradient transforms read: hyperparameter scalars, momentum buffers
    and the proximal anchors (starting as the spec's own weights).

    They are added to the base model before generation so that ORT stores them in the checkpoint
    as frozen parameters and binds them to the training graph by name.
    """
    defaults = plan.defaults()
    tensors = [
        numpy_helper.from_array(hyper_value(defaults[n]), hyper_parameter_name(n))
        for n in plan.graph_settings
    ]
    if plan.has_momentum:
        for name, tensor in trainable.items():
            zeros = np.zeros(tuple(tensor.dims), dtype=np.float32)
            tensors.append(numpy_helper.from_array(zeros, momentum_buffer_name(name)))
    for name, anchor in anchor_names(plan, list(trainable)).items():
        tensors.append(numpy_helper.from_array(numpy_helper.to_array(trainable[name]), anchor))
    return tensors


def state_names(plan: OptimizerPlan, trainable: list[str]) -> list[str]:
    buffers = [momentum_buffer_name(name) for name in trainable] if plan.has_momentum else []
    anchors = list(anchor_names(plan, trainable).values())
    return [hyper_parameter_name(n) for n in plan.graph_settings] + buffers + anchors


class _Nodes:
    """Collects nodes with names unique to the transform, so ORT errors point at mlspec's step."""

    def __init__(self) -> None:
        self.nodes: list[onnx.NodeProto] = []
        self.initializers: list[onnx.TensorProto] = []

    def constant(self, name: str, value: np.ndarray) -> str:
        self.initializers.append(numpy_helper.from_array(value, f"mlspec.const/{name}"))
        return f"mlspec.const/{name}"

    def add(self, op: str, inputs: list[str], output: str, **attributes: Any) -> str:
        domain = "com.microsoft" if op == "InPlaceAccumulatorV2" else ""
        self.nodes.append(
            helper.make_node(op, inputs, [output], name=f"mlspec/{output}", domain=domain, **attributes)
        )
        return output


def insert_gradient_transforms(
    training_model: onnx.ModelProto, plan: OptimizerPlan, trainable: list[str]
) -> None:
    """Rewire each `<param>_grad` -> accumulator edge through the proximal term, clipping, L2
    decay and momentum."""
    graph = training_model.graph
    if not plan.graph_settings:
        return
    accumulators = {
        node.input[1][: -len("_grad")]: node
        for node in graph.node
        if node.op_type == "InPlaceAccumulatorV2" and node.input[1].endswith("_grad")
    }
    first = min(index for index, node in enumerate(graph.node) if node.op_type == "InPlaceAccumulatorV2")
    build = _Nodes()
    scalar = {
        name: build.add("Squeeze", [hyper_parameter_name(name)], f"mlspec.scalar/{name}")
        for name in plan.graph_settings
    }
    grads = {name: f"{name}_grad" for name in trainable}
    for name, anchor in anchor_names(plan, trainable).items():
        pull = build.add("Sub", [name, anchor], f"{grads[name]}/from_anchor")
        proximal = build.add("Mul", [scalar["proximal_mu"], pull], f"{grads[name]}/proximal")
        grads[name] = build.add("Add", [grads[name], proximal], f"{grads[name]}/with_proximal")
    if plan.clipping == "value":
        low = build.add("Neg", [scalar["clip_value"]], "mlspec.scalar/minus_clip_value")
        grads = {
            n: build.add("Clip", [g, low, scalar["clip_value"]], f"{g}/clipped") for n, g in grads.items()
        }
    if plan.clipping == "norm":
        grads = _clip_by_norm(build, grads, scalar["clip_norm"])
    if "weight_decay" in scalar:
        grads = {
            n: build.add(
                "Add", [g, build.add("Mul", [scalar["weight_decay"], n], f"{g}/decay")], f"{g}/decayed"
            )
            for n, g in grads.items()
        }
    if plan.has_momentum:
        grads = _momentum(build, graph, grads, scalar["momentum"], scalar["nesterov"])
    for name, grad in grads.items():
        accumulators[name].input[1] = grad
    nodes = list(graph.node)
    del graph.node[:]
    graph.node.extend([*nodes[:first], *build.nodes, *nodes[first:]])
    graph.initializer.extend(build.initializers)


def _clip_by_norm(build: _Nodes, grads: dict[str, str], max_norm: str) -> dict[str, str]:
    squares = [build.add("ReduceSumSquare", [g], f"{g}/sum_square", keepdims=0) for g in grads.values()]
    total = build.add("Sqrt", [build.add("Sum", squares, "mlspec.clip/sum_square")], "mlspec.clip/total_norm")
    eps = build.constant("clip_eps", np.array(_CLIP_NORM_EPS, dtype=np.float32))
    one = build.constant("one", np.array(1.0, dtype=np.float32))
    ratio = build.add(
        "Div", [max_norm, build.add("Add", [total, eps], "mlspec.clip/norm_eps")], "mlspec.clip/ratio"
    )
    coefficient = build.add("Min", [ratio, one], "mlspec.clip/coefficient")
    return {n: build.add("Mul", [g, coefficient], f"{g}/norm_clipped") for n, g in grads.items()}


def _momentum(
    build: _Nodes, graph: onnx.GraphProto, grads: dict[str, str], momentum: str, nesterov: str
) -> dict[str, str]:
    half = build.constant("half", np.array(0.5, dtype=np.float32))
    overwrite = build.constant("true", np.array([True]))
    use_nesterov = build.add("Greater", [nesterov, half], "mlspec.scalar/use_nesterov")
    flags: list[str] = []
    directions: dict[str, str] = {}
    for name, grad in grads.items():
        buffer = momentum_buffer_name(name)
        scaled = build.add("Mul", [momentum, buffer], f"{buffer}/scaled")
        updated = build.add("Add", [scaled, grad], f"{buffer}/new")
        flags.append(build.add("InPlaceAccumulatorV2", [buffer, updated, overwrite], f"{buffer}/written"))
        look_ahead = build.add(
            "Add", [grad, build.add("Mul", [momentum, updated], f"{buffer}/ahead")], f"{grad}/nesterov"
        )
        directions[name] = build.add("Where", [use_nesterov, look_ahead, updated], f"{grad}/momentum")
    build.add("Concat", flags, STATE_UPDATED_OUTPUT, axis=0)
    graph.output.append(helper.make_tensor_value_info(STATE_UPDATED_OUTPUT, TensorProto.BOOL, [len(flags)]))
    return directions
