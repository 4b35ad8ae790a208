"""Seeded mutators for ONNX and Core ML files: valid seed models, bent field by field.

A mutation walks the protobuf message by reflection, so it reaches every field the format has
(node attributes, initializer dims and bytes, opset versions, Core ML layer parameters, update
settings), and sets one to a value chosen to break assumptions: 0, -1, 2^31, 2^62, NaN, an empty
or very long string, a name borrowed from elsewhere in the model (which rewires graphs), a
truncated or doubled byte string, a repeated field emptied or duplicated. Some inputs then get
byte-level damage on top (flips, truncation, inserted spans), which reaches the wire decoder.

Everything is a pure function of (seed, index), so a finding is reproduced from two numbers.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable
from typing import Any

import numpy as np
import onnx
from google.protobuf import descriptor
from google.protobuf.message import Message
from onnx import TensorProto, helper, numpy_helper

_INTS = (0, 1, -1, 2, 3, 7, 255, 2**31 - 1, 2**31, -(2**31), 2**32 + 1, 2**62, -(2**63), 2**63 - 1)
_FLOATS = (0.0, -0.0, 1.0, -1.0, 0.5, 1e-30, 1e30, 3.4e38, float("nan"), float("inf"), float("-inf"))
_NAMES = (
    "",
    "x",
    "nowhere",
    "../../etc/passwd",
    "\x1b[2J",
    "a" * 300,
    "\u00e9\u4e2d",
    "label",
    "probabilities",
)

Seed = Callable[[], bytes]


def mutate(data: bytes, root: type[Message], rng: random.Random) -> bytes:
    """One mutated input from a serialized seed of message type `root`."""
    message = root()
    message.ParseFromString(data)
    strings = sorted(_strings(message))[:400] or list(_NAMES)
    for _ in range(rng.randint(1, 4)):
        slots = _slots(message, rng, depth=0)
        if slots:
            owner, field = rng.choice(slots)
            _mutate_field(owner, field, rng, strings)
    out = message.SerializeToString()
    if rng.random() < 0.25:
        out = _damage(out, rng)
    return out


def _slots(message: Message, rng: random.Random, depth: int) -> list[tuple[Message, Any]]:
    found: list[tuple[Message, Any]] = []
    present = {field.name for field, _ in message.ListFields()} if depth <= 12 else set()
    for field, name, kind in _walk_plan(message.DESCRIPTOR):
        found.append((message, field))
        if kind == _LEAF or name not in present:
            continue  # an empty repeated field draws nothing from rng.sample either
        if kind == _REPEATED_MESSAGE:
            children = list(getattr(message, name))
            for child in rng.sample(children, min(len(children), 6)):
                found.extend(_slots(child, rng, depth + 1))
        else:
            found.extend(_slots(getattr(message, name), rng, depth + 1))
    return found


_LEAF, _MESSAGE, _REPEATED_MESSAGE = range(3)


@functools.cache
def _walk_plan(message_type: Any) -> tuple[tuple[Any, str, int], ...]:
    """Each field of a message type with how the walk treats it.

    Core ML's layer messages have hundreds of fields; reading the descriptor's properties once
    per type instead of per visit made mutation four times faster (it was most of the fuzzer's
    time). The walk and its random draws are unchanged, so every (seed, index) input is the same.
    """
    plan = []
    for field in message_type.fields:
        if field.type != descriptor.FieldDescriptor.TYPE_MESSAGE:
            kind = _LEAF
        else:
            kind = _REPEATED_MESSAGE if _is_repeated(field) else _MESSAGE
        plan.append((field, field.name, kind))
    return tuple(plan)


def _is_repeated(field: Any) -> bool:
    return bool(field.is_repeated)


def _mutate_field(owner: Message, field: Any, rng: random.Random, strings: list[str]) -> None:
    try:
        if _is_repeated(field):
            _mutate_repeated(owner, field, rng, strings)
        elif field.type == descriptor.FieldDescriptor.TYPE_MESSAGE:
            if rng.random() < 0.3:
                owner.ClearField(field.name)
            else:
                getattr(owner, field.name).SetInParent()
        else:
            setattr(owner, field.name, _value(field, rng, strings, getattr(owner, field.name)))
    except (ValueError, TypeError, AttributeError):
        pass  # a value the field cannot hold (closed enum, out of range): skip this mutation


def _mutate_repeated(owner: Message, field: Any, rng: random.Random, strings: list[str]) -> None:
    items = getattr(owner, field.name)
    choice = rng.randrange(4)
    if choice == 0 and len(items):
        del items[rng.randrange(len(items))]
    elif choice == 1 and len(items) and field.type == descriptor.FieldDescriptor.TYPE_MESSAGE:
        items.add().CopyFrom(items[rng.randrange(len(items))])
    elif choice == 2 and field.type != descriptor.FieldDescriptor.TYPE_MESSAGE:
        if len(items):
            items[rng.randrange(len(items))] = _value(field, rng, strings, items[0])
        else:
            items.append(_value(field, rng, strings, None))
    elif choice == 3:
        if rng.random() < 0.5:
            del items[:]
        elif field.type != descriptor.FieldDescriptor.TYPE_MESSAGE:
            items.extend(_value(field, rng, strings, None) for _ in range(rng.randint(1, 5)))


def _value(field: Any, rng: random.Random, strings: list[str], current: Any) -> Any:
    kind = field.cpp_type
    if kind == descriptor.FieldDescriptor.CPPTYPE_BOOL:
        return not current
    if kind in (descriptor.FieldDescriptor.CPPTYPE_FLOAT, descriptor.FieldDescriptor.CPPTYPE_DOUBLE):
        return rng.choice(_FLOATS)
    if kind == descriptor.FieldDescriptor.CPPTYPE_ENUM:
        return rng.choice([*range(0, 25), 99])
    if kind == descriptor.FieldDescriptor.CPPTYPE_STRING:
        if field.type == descriptor.FieldDescriptor.TYPE_BYTES:
            data = bytes(current or b"")
            return rng.choice(
                [b"", data[: rng.randint(0, max(len(data) - 1, 0))], data * 2, b"\x01", rng.randbytes(9)]
            )
        return rng.choice(strings) if rng.random() < 0.7 else rng.choice(_NAMES)
    if kind in (descriptor.FieldDescriptor.CPPTYPE_UINT32, descriptor.FieldDescriptor.CPPTYPE_UINT64):
        return abs(rng.choice(_INTS)) % (
            2**32 if kind == descriptor.FieldDescriptor.CPPTYPE_UINT32 else 2**64
        )
    value = rng.choice(_INTS) if rng.random() < 0.8 else rng.randint(-3, 30)
    if kind == descriptor.FieldDescriptor.CPPTYPE_INT32:
        value = max(-(2**31), min(2**31 - 1, value))
    return value


def _strings(message: Message) -> set[str]:
    found: set[str] = set()
    for field, value in message.ListFields():
        if field.type == descriptor.FieldDescriptor.TYPE_STRING:
            found.update(value if _is_repeated(field) else [value])
        elif field.type == descriptor.FieldDescriptor.TYPE_MESSAGE:
            for child in value if _is_repeated(field) else [value]:
                found |= _strings(child)
    return found


def _damage(data: bytes, rng: random.Random) -> bytes:
    buffer = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        if not buffer:
            break
        at = rng.randrange(len(buffer))
        choice = rng.randrange(3)
        if choice == 0:
            buffer[at] ^= 1 << rng.randrange(8)
        elif choice == 1:
            del buffer[at:]
        else:
            buffer[at:at] = rng.randbytes(rng.randint(1, 8))
    return bytes(buffer)


# Seeds: small valid models in the shapes exporters write.


def _onnx(
    nodes: list[onnx.NodeProto], inputs: list[Any], outputs: list[Any], inits: list[Any], opset: int
) -> bytes:
    graph = helper.make_graph(nodes, "seed", inputs, outputs, inits)
    return bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)]).SerializeToString())


def _w(name: str, *shape: int) -> TensorProto:
    return numpy_helper.from_array(
        np.random.default_rng(len(name)).standard_normal(shape).astype(np.float32), name
    )


def onnx_seeds() -> list[bytes]:
    """An MLP classifier at opsets 13 and 21, a CNN at opset 11, a shape-computing reshape at 11."""
    info = helper.make_tensor_value_info
    mlp = [
        helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], name="fc1", transB=1),
        helper.make_node("Relu", ["h"], ["r"], name="relu"),
        helper.make_node("Gemm", ["r", "w2", "b2"], ["logits"], name="fc2", transB=1),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=-1),
        helper.make_node("Identity", ["probs"], ["probabilities"]),
    ]
    mlp_io = (
        [info("x", TensorProto.FLOAT, ["batch", 4])],
        [info("probabilities", TensorProto.FLOAT, ["batch", 3])],
    )
    mlp_w = [_w("w1", 5, 4), _w("b1", 5), _w("w2", 3, 5), _w("b2", 3)]
    cnn = [
        helper.make_node(
            "Conv", ["img", "k", "kb"], ["c"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[1, 1]
        ),
        helper.make_node("BatchNormalization", ["c", "g", "be", "m", "v"], ["n"], epsilon=1e-5),
        helper.make_node("Relu", ["n"], ["r"]),
        helper.make_node("MaxPool", ["r"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["f"], axis=1),
        helper.make_node("MatMul", ["f", "d"], ["mm"]),
        helper.make_node("Add", ["mm", "db"], ["logits"]),
        helper.make_node("Softmax", ["logits"], ["probs"], axis=1),
    ]
    cnn_w = [
        _w("k", 2, 1, 3, 3),
        _w("kb", 2),
        _w("g", 2),
        _w("be", 2),
        _w("m", 2),
        _w("d", 18, 3),
        _w("db", 3),
    ]
    cnn_w.append(numpy_helper.from_array(np.ones(2, np.float32), "v"))
    cnn_io = (
        [info("img", TensorProto.FLOAT, ["batch", 1, 6, 6])],
        [info("probs", TensorProto.FLOAT, ["batch", 3])],
    )
    shaped = [
        helper.make_node("Shape", ["x"], ["s"]),
        helper.make_node("Gather", ["s", "zero"], ["n"], axis=0),
        helper.make_node("Unsqueeze", ["n"], ["n1"], axes=[0]),
        helper.make_node("Concat", ["n1", "minus1"], ["target"], axis=0),
        helper.make_node("Reshape", ["x", "target"], ["flat"]),
        helper.make_node("Relu", ["flat"], ["y"]),
        helper.make_node("ConstantOfShape", ["three"], ["zeros"]),
        helper.make_node("Range", ["r0", "r3", "r1"], ["steps"]),
    ]
    ints = [
        numpy_helper.from_array(np.array(v, np.int64), n)
        for n, v in (("zero", 0), ("minus1", [-1]), ("three", [3]))
    ]
    ints += [
        numpy_helper.from_array(np.array(v, np.float32), n) for n, v in (("r0", 0), ("r3", 3), ("r1", 1))
    ]
    shaped_io = (
        [info("x", TensorProto.FLOAT, ["batch", 2, 3])],
        [info("y", TensorProto.FLOAT, ["batch", 6])],
    )
    return [
        _onnx(mlp, *mlp_io, mlp_w, 13),
        _onnx(mlp, *mlp_io, mlp_w, 21),
        _onnx(cnn, *cnn_io, cnn_w, 11),
        _onnx(shaped, *shaped_io, ints, 11),
    ]


def coreml_seeds() -> list[bytes]:
    """An updatable MLP classifier (SGD), a CNN classifier with an image scaler, a regressor."""
    from coremltools.models import datatypes  # noqa: PLC0415 (optional dependency)
    from coremltools.models.neural_network import NeuralNetworkBuilder, SgdParams  # noqa: PLC0415

    rng = np.random.default_rng(5)
    mlp = NeuralNetworkBuilder(
        [("x", datatypes.Array(4))], [("probs", datatypes.Array(3))], mode="classifier"
    )
    mlp.add_inner_product("fc1", rng.standard_normal((5, 4)), rng.standard_normal(5), 4, 5, True, "x", "h")
    mlp.add_activation("relu", "RELU", "h", "r")
    mlp.add_inner_product(
        "fc2", rng.standard_normal((3, 5)), rng.standard_normal(3), 5, 3, True, "r", "logits"
    )
    mlp.add_softmax("softmax", "logits", "probs")
    mlp.set_class_labels(["a", "b", "c"], predicted_feature_name="label", prediction_blob="probs")
    mlp.make_updatable(["fc1", "fc2"])
    mlp.set_categorical_cross_entropy_loss("loss", "probs")
    mlp.set_sgd_optimizer(SgdParams(lr=0.01, batch=4))
    mlp.set_epochs(3)
    cnn = NeuralNetworkBuilder(
        [("image", datatypes.Array(1, 6, 6))], [("probs", datatypes.Array(2))], mode="classifier"
    )
    cnn.add_convolution(
        "conv",
        1,
        2,
        3,
        3,
        1,
        1,
        "same",
        1,
        rng.standard_normal((3, 3, 1, 2)),
        None,
        False,
        input_name="image",
        output_name="c",
    )
    cnn.add_pooling("pool", 2, 2, 2, 2, "MAX", padding_type="VALID", input_name="c", output_name="p")
    cnn.add_flatten("flat", 0, "p", "f")
    cnn.add_inner_product("fc", rng.standard_normal((2, 18)), None, 18, 2, False, "f", "logits")
    cnn.add_softmax("softmax", "logits", "probs")
    cnn.set_class_labels([0, 1], predicted_feature_name="classLabel", prediction_blob="probs")
    regressor = NeuralNetworkBuilder(
        [("x", datatypes.Array(3))], [("y", datatypes.Array(1))], mode="regressor"
    )
    regressor.add_inner_product(
        "fc", rng.standard_normal((1, 3)), rng.standard_normal(1), 3, 1, True, "x", "y"
    )
    return [bytes(b.spec.SerializeToString()) for b in (mlp, cnn, regressor)]
