"""The optimizer as standard ONNX ops appended to a graph that outputs `<param>_grad` tensors.

The update rules are PyTorch's, the same ones convert/optimizers.py documents for the
ort-training backend (clipping, then SGD with momentum/nesterov/L2, Adam with L2, or AdamW's
decoupled decay), so the two backends agree to float rounding. Every tunable value is a scalar
graph input named `hyper/<name>` (the step count `hyper/step` counts from 1), so an override or a
schedule changes a fed value, never the model. The scalar arithmetic (bias corrections, the
step size, AdamW's shrink factor) is computed once per step on scalars and then read by each
tensor's few elementwise ops.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from mlspec.convert.optimizers import OptimizerPlan, anchor_names

HYPER_PREFIX = "hyper/"
STEP_INPUT = HYPER_PREFIX + "step"
NEXT_PREFIX = "next/"
_CLIP_NORM_EPS = 1e-6
GROUPED_SIZE = 16384  # tensors up to this many elements share one update chain (see _update)


def hyper_input(name: str) -> str:
    return HYPER_PREFIX + name


def state_tensors(plan: OptimizerPlan, parameter: str) -> list[str]:
    """The optimizer state kept for one trainable tensor, zero at the start."""
    if plan.kind == "sgd":
        return [f"state/momentum/{parameter}"] if plan.has_momentum else []
    return [f"state/exp_avg/{parameter}", f"state/exp_avg_sq/{parameter}"]


def hyper_inputs(plan: OptimizerPlan) -> list[str]:
    """The scalar hyperparameters the update reads (float32 []; nesterov is bool [])."""
    names = ["learning_rate"]
    if plan.has_proximal:
        names.append("proximal_mu")
    if plan.clipping == "norm":
        names.append("clip_norm")
    elif plan.clipping == "value":
        names.append("clip_value")
    if plan.may_be_nonzero("weight_decay"):
        names.append("weight_decay")
    if plan.kind == "sgd":
        if plan.has_momentum:
            names += ["momentum", "nesterov"]
    else:
        names += ["beta1", "beta2", "eps"]
    return names


@dataclass
class _Emitter:
    graph: onnx.GraphProto
    count: int = 0
    constants: dict[float, str] = field(default_factory=dict)
    vectors: dict[tuple[int, ...], str] = field(default_factory=dict)

    def op(self, op_type: str, inputs: Sequence[str], **attributes: Any) -> str:
        self.count += 1
        name = f"optimizer/{op_type.lower()}_{self.count}"
        self.graph.node.append(helper.make_node(op_type, list(inputs), [name], name=name, **attributes))
        return name

    def to(self, output: str, op_type: str, inputs: Sequence[str]) -> None:
        self.graph.node.append(helper.make_node(op_type, list(inputs), [output], name=output))

    def const_vector(self, values: Sequence[int]) -> str:
        """An int64 vector constant (shapes and split sizes)."""
        key = tuple(values)
        if key not in self.vectors:
            name = f"optimizer/shape_{len(self.vectors)}"
            self.graph.initializer.append(numpy_helper.from_array(np.array(key, dtype=np.int64), name))
            self.vectors[key] = name
        return self.vectors[key]

    def const(self, value: float) -> str:
        if value not in self.constants:
            name = f"optimizer/const_{len(self.constants)}"
            self.graph.initializer.append(numpy_helper.from_array(np.array(value, dtype=np.float32), name))
            self.constants[value] = name
        return self.constants[value]


def append_optimizer(graph: onnx.GraphProto, plan: OptimizerPlan, trainable: Sequence[str]) -> None:
    """Add inputs hyper/*, state/* and the proximal anchors, outputs next/<param> and
    next/state/*, and the update nodes."""
    emit = _Emitter(graph)
    for name in hyper_inputs(plan):
        dtype = TensorProto.BOOL if name == "nesterov" else TensorProto.FLOAT
        graph.input.append(helper.make_tensor_value_info(hyper_input(name), dtype, []))
    if plan.kind != "sgd":
        graph.input.append(helper.make_tensor_value_info(STEP_INPUT, TensorProto.FLOAT, []))
    types = {value.name: value.type for value in graph.input}
    for parameter in trainable:
        for state in state_tensors(plan, parameter):
            graph.input.append(onnx.ValueInfoProto(name=state, type=types[parameter]))
            graph.output.append(onnx.ValueInfoProto(name=NEXT_PREFIX + state, type=types[parameter]))
        graph.output.append(onnx.ValueInfoProto(name=NEXT_PREFIX + parameter, type=types[parameter]))
    grads = {parameter: f"{parameter}_grad" for parameter in trainable}
    for parameter, anchor in anchor_names(plan, list(trainable)).items():
        graph.input.append(onnx.ValueInfoProto(name=anchor, type=types[parameter]))
        # FedProx: the gradient of (mu/2) ||p - anchor||^2 joins the loss's, before clipping.
        pull = emit.op("Mul", [hyper_input("proximal_mu"), emit.op("Sub", [parameter, anchor])])
        grads[parameter] = emit.op("Add", [grads[parameter], pull])
    if plan.clipping == "norm":
        grads = _clip_by_norm(emit, grads)
    elif plan.clipping == "value":
        limit = hyper_input("clip_value")
        low = emit.op("Neg", [limit])
        grads = {p: emit.op("Clip", [g, low, limit]) for p, g in grads.items()}
    _update(emit, plan, grads, types)


def _clip_by_norm(emit: _Emitter, grads: dict[str, str]) -> dict[str, str]:
    """torch.nn.utils.clip_grad_norm_: scale by min(1, max_norm / (total norm + 1e-6))."""
    squares = [emit.op("ReduceSumSquare", [g], keepdims=0) for g in grads.values()]
    total = emit.op("Sqrt", [emit.op("Sum", squares)])
    ratio = emit.op("Div", [hyper_input("clip_norm"), emit.op("Add", [total, emit.const(_CLIP_NORM_EPS)])])
    coefficient = emit.op("Min", [ratio, emit.const(1.0)])
    return {p: emit.op("Mul", [g, coefficient]) for p, g in grads.items()}


def _update(emit: _Emitter, plan: OptimizerPlan, grads: dict[str, str], types: dict[str, Any]) -> None:
    """Write next/<param> and next/<state> for every parameter: tensors of at most GROUPED_SIZE
    elements share one flattened update chain, the rest get one chain each.

    An update is a fixed number of elementwise ops per tensor (AdamW's is 13): over a bias or a
    small weight each op costs its launch, not its arithmetic, so the small tensors' parameters,
    gradients and state are concatenated, updated by one chain and split back (the Concat and
    Split cost a pass over a few thousand floats, against 13 launches per tensor saved).
    """
    update = _sgd_rule(emit, plan) if plan.kind == "sgd" else _adam_rule(emit, plan)
    small = [p for p in grads if _elements(types[p]) <= GROUPED_SIZE]
    if len(small) < 2:
        small = []
    for parameter, grad in grads.items():
        if parameter not in small:
            states = state_tensors(plan, parameter)
            update(parameter, grad, states, [NEXT_PREFIX + name for name in (parameter, *states)])
    if not small:
        return
    flat = emit.const_vector([-1])

    def joined(names: Sequence[str]) -> str:
        return emit.op("Concat", [emit.op("Reshape", [name, flat]) for name in names], axis=0)

    # Columns: the parameters, their gradients, then each kind of state.
    columns = [small, [grads[p] for p in small], *zip(*(state_tensors(plan, p) for p in small), strict=True)]
    parameter, grad, *states = (joined(column) for column in columns)
    outputs = [f"optimizer/grouped/{index}" for index in range(len(columns) - 1)]
    update(parameter, grad, states, outputs)
    sizes = emit.const_vector([_elements(types[p]) for p in small])
    for index, output in enumerate(outputs):
        pieces = [f"{output}/{name}" for name in small]
        split = helper.make_node("Split", [output, sizes], pieces, name=f"{output}/split", axis=0)
        emit.graph.node.append(split)
        for piece, name in zip(pieces, small, strict=True):
            target = NEXT_PREFIX + [name, *state_tensors(plan, name)][index]
            emit.to(target, "Reshape", [piece, emit.const_vector(_dims(types[name]))])


def _elements(tensor_type: onnx.TypeProto) -> int:
    return int(np.prod(_dims(tensor_type), dtype=np.int64))


def _dims(tensor_type: onnx.TypeProto) -> list[int]:
    """A parameter's dims (always fixed: parameters are graph inputs shaped like their values)."""
    return [dim.dim_value for dim in tensor_type.tensor_type.shape.dim]


# An update rule: (parameter, gradient, state inputs, [next parameter, *next states]) -> nodes.
Update = Callable[[str, str, Sequence[str], Sequence[str]], None]


def _sgd_rule(emit: _Emitter, plan: OptimizerPlan) -> Update:
    rate = hyper_input("learning_rate")

    def update(parameter: str, grad: str, states: Sequence[str], outputs: Sequence[str]) -> None:
        direction = grad
        if plan.may_be_nonzero("weight_decay"):
            decay = emit.op("Mul", [hyper_input("weight_decay"), parameter])
            direction = emit.op("Add", [direction, decay])
        if plan.has_momentum:
            (buffer,) = states
            momentum = hyper_input("momentum")
            # A zero buffer makes the first step's buffer the direction itself, as in torch.
            updated = outputs[1]
            emit.to(updated, "Add", [emit.op("Mul", [momentum, buffer]), direction])
            ahead = emit.op("Add", [direction, emit.op("Mul", [momentum, updated])])
            direction = emit.op("Where", [hyper_input("nesterov"), ahead, updated])
        emit.to(outputs[0], "Sub", [parameter, emit.op("Mul", [rate, direction])])

    return update


def _adam_rule(emit: _Emitter, plan: OptimizerPlan) -> Update:
    """torch's Adam or AdamW, its step size lr / (1 - beta1^t) and denominator
    sqrt(v) / sqrt(1 - beta2^t) + eps both multiplied by sqrt(1 - beta2^t): the same update with
    one pass over each tensor fewer. The scalars are computed once per step, before any tensor."""
    rate, beta1, beta2 = hyper_input("learning_rate"), hyper_input("beta1"), hyper_input("beta2")
    one = emit.const(1.0)
    correction1 = emit.op("Sub", [one, emit.op("Pow", [beta1, STEP_INPUT])])
    root2 = emit.op("Sqrt", [emit.op("Sub", [one, emit.op("Pow", [beta2, STEP_INPUT])])])
    step_size = emit.op("Div", [emit.op("Mul", [rate, root2]), correction1])
    eps = emit.op("Mul", [hyper_input("eps"), root2])
    keep1, keep2 = emit.op("Sub", [one, beta1]), emit.op("Sub", [one, beta2])
    decay = plan.may_be_nonzero("weight_decay")
    shrink = ""
    if plan.kind == "adamw" and decay:
        shrink = emit.op("Sub", [one, emit.op("Mul", [rate, hyper_input("weight_decay")])])

    def update(parameter: str, raw: str, states: Sequence[str], outputs: Sequence[str]) -> None:
        first, second = states
        new_parameter, new_first, new_second = outputs
        grad = raw
        if plan.kind == "adam" and decay:
            grad = emit.op("Add", [raw, emit.op("Mul", [hyper_input("weight_decay"), parameter])])
        start = emit.op("Mul", [parameter, shrink]) if shrink else parameter
        emit.to(new_first, "Add", [emit.op("Mul", [beta1, first]), emit.op("Mul", [keep1, grad])])
        squared = emit.op("Mul", [keep2, emit.op("Mul", [grad, grad])])
        emit.to(new_second, "Add", [emit.op("Mul", [beta2, second]), squared])
        denominator = emit.op("Add", [emit.op("Sqrt", [new_second]), eps])
        step = emit.op("Mul", [step_size, emit.op("Div", [new_first, denominator])])
        emit.to(new_parameter, "Sub", [start, step])

    return update
