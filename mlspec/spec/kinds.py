"""Questions about a layer's kind, answered from the catalogue (mlspec.spec.layer_kinds).

Which tensors a layer holds, which can train, which pass gradients, whether its attributes are
sane: validation, the builder and the converter all ask here, so the answers come from the one
declaration of each kind.
"""

from __future__ import annotations

from collections.abc import Iterator

from google.protobuf.message import Message

from mlspec._proto import layers_pb2, tensor_pb2
from mlspec.spec import layer_kinds
from mlspec.spec.errors import MlspecError, Problem, layer_ref
from mlspec.spec.layer_kinds.base import KindInfo

KINDS: dict[str, KindInfo] = layer_kinds.KINDS
"""Every kind, by name, in the order of `Layer.kind` in layers.proto."""


TRAINABLE_KINDS: tuple[str, ...] = tuple(name for name, info in KINDS.items() if info.trainable)


GRADIENT_ONNX_OPS = frozenset(
    {
        "Gemm", "MatMul", "Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "BatchNormalization",
        "LayerNormalization", "Dropout", "Relu", "LeakyRelu", "Sigmoid", "Tanh", "Softmax", "LogSoftmax",
        "Gelu", "Flatten", "Reshape", "Transpose", "Concat", "Slice", "Squeeze", "Unsqueeze", "Pad",
        "Expand", "Tile", "Clip", "Exp", "Log", "Sqrt", "Reciprocal", "Pow", "Neg", "Abs", "Erf", "Add",
        "Sub", "Mul", "Div", "Min", "Max", "ReduceMean", "ReduceSum", "ReduceL2", "ReduceLogSumExp",
        "Where", "Cast", "Identity", "Gather", "GatherElements",
    }
)  # fmt: skip
"""Default-domain ONNX ops whose gradients the training backend (onnxruntime-training's CPU
gradient builder, checked op by op) computes. A frozen `onnx_node` of one of these ops passes
gradients to its inputs, so an imported graph's generic glue (global pooling as ReduceMean, a
layer-scale Mul, attention's MatMul) does not cut off the layers before it."""

PORTABLE_ONLY_GRADIENT_OPS = frozenset(
    {"ConvTranspose", "HardSwish", "HardSigmoid", "Elu", "Softplus", "GlobalMaxPool", "Split", "Sum"}
)
"""Default-domain ops the portable backend differentiates (mlspec.backends.portable.grad_rules)
and onnxruntime-training does not (no CPU gradient kernel, or an invalid training graph). A spec
with one on a backprop path is valid; the ort-training backend refuses it naming the layer, and
`--backend auto` (or portable) trains it. Everything else (ReduceMax, Resize, ...) blocks, by
name, in every backend."""


def passes_gradient(layer: layers_pb2.Layer) -> bool:
    """Whether gradients flow from the layer's outputs to its inputs in some training backend (per
    op for onnx_node; a backend that lacks an op's gradient refuses it when writing artifacts)."""
    if layer.WhichOneof("kind") == "onnx_node":
        return ort_lacks_gradient(layer) or _onnx_op_in(layer, GRADIENT_ONNX_OPS)
    return kind_info(layer).passes_gradient


def ort_lacks_gradient(layer: layers_pb2.Layer) -> bool:
    """Whether the layer is an onnx_node only the portable backend can differentiate."""
    return layer.WhichOneof("kind") == "onnx_node" and _onnx_op_in(layer, PORTABLE_ONLY_GRADIENT_OPS)


def _onnx_op_in(layer: layers_pb2.Layer, ops: frozenset[str]) -> bool:
    return layer.onnx_node.domain in ("", "ai.onnx") and layer.onnx_node.op_type in ops


def kind_label(layer: layers_pb2.Layer) -> str:
    """The kind as errors name it; a generic node also names its op ("onnx_node HardSwish")."""
    kind = layer.WhichOneof("kind") or "no kind"
    return f"{kind} {layer.onnx_node.op_type}" if kind == "onnx_node" else kind


def supported_kinds() -> str:
    return ", ".join(KINDS)


def kind_of(layer: layers_pb2.Layer) -> str:
    kind = layer.WhichOneof("kind")
    if kind is None:
        raise MlspecError(f"{layer_ref(layer.name)}: no kind set; use one of {supported_kinds()}")
    return str(kind)


def kind_info(layer: layers_pb2.Layer) -> KindInfo:
    return KINDS[kind_of(layer)]


def kind_message(layer: layers_pb2.Layer) -> Message:
    return getattr(layer, kind_of(layer))  # type: ignore[no-any-return]


def layer_tensors(layer: layers_pb2.Layer) -> Iterator[tuple[str, tensor_pb2.Tensor]]:
    """Yield (field name, tensor) for every tensor the layer holds, skipping unset ones."""
    kind = layer.WhichOneof("kind")
    if kind is None:
        return
    message = getattr(layer, kind)
    if kind == "onnx_node":
        for constant in message.constants:
            yield f"constants[{constant.name!r}]", constant.tensor
        return
    for field in KINDS[kind].tensor_fields:
        if message.HasField(field):
            yield field, getattr(message, field)


def trainable_tensors(layer: layers_pb2.Layer) -> Iterator[tuple[str, tensor_pb2.Tensor]]:
    """Yield the tensors that may be updated for this layer's kind, whether flagged or not."""
    kind = layer.WhichOneof("kind")
    if kind is None:
        return
    allowed = KINDS[kind].trainable_fields
    for field, tensor in layer_tensors(layer):
        if field in allowed:
            yield field, tensor


def parameter_count(layer: layers_pb2.Layer) -> int:
    total = 0
    for _, tensor in layer_tensors(layer):
        count = 1
        for dim in tensor.shape:
            count *= dim
        total += count
    return total


def check_attributes(layer: layers_pb2.Layer) -> None:
    """Raise ShapeError for the first attribute of the layer that cannot be right for any input."""
    kind = layer.WhichOneof("kind")
    if kind is not None:
        KINDS[kind].check(layer)


def attribute_problems(layer: layers_pb2.Layer, where: str) -> list[Problem]:
    """Out-of-range numeric attributes; the builder refuses a layer with the same words."""
    kind = layer.WhichOneof("kind")
    checks = KINDS[kind].numbers(layer) if kind else []
    return [
        Problem(f"{where}.{field}", f"{field} {value:g} {rule}", fix)
        for field, value, ok, rule, fix in checks
        if not ok
    ]
