"""Generic ONNX nodes: validate is the gate, so a node whose attributes would crash onnx's or ONNX
Runtime's native code is a validation problem, and convert and train end in one error line
instead of a signal (regression tests for the hardening review)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest

from mlspec._proto import model_pb2, tensor_pb2
from mlspec.builder import NetworkBuilder
from mlspec.spec.io import save
from mlspec.spec.validate import find_problems
from tests.cli.subprocesses import mlspec
from tests.support.heads import classifier_head


def _pooled(**attributes: object) -> model_pb2.Model:
    """x [1, 4, 4] -> onnx_node MaxPool -> flatten -> dense (updatable) -> softmax."""
    builder = NetworkBuilder(class_labels=["a", "b"], seed=0)
    builder.add_input("x", (1, 4, 4))
    builder.add_onnx_node(
        "pool",
        ["x"],
        "MaxPool",
        attributes=[onnx.helper.make_attribute(name, value) for name, value in attributes.items()],
        output_types=[(tensor_pb2.FLOAT32, ["batch", 1, 2, 2])],
    )
    return classifier_head(builder, "pool", 2).spec


def _only(model: model_pb2.Model) -> str:
    (problem,) = find_problems(model)
    return str(problem)


def test_a_well_formed_generic_maxpool_validates() -> None:
    assert find_problems(_pooled(kernel_shape=[2, 2], strides=[2, 2])) == []


def test_maxpool_zero_strides_is_a_validation_problem() -> None:
    text = _only(_pooled(kernel_shape=[2, 2], strides=[0, 0]))
    assert text.startswith("""layers["pool"].onnx_node.attributes['strides']: strides [0, 0]""")
    assert "[1, 65536]" in text


def test_huge_dilation_is_a_validation_problem() -> None:
    assert "dilations [4611686018427387904, 1]" in _only(
        _pooled(kernel_shape=[2, 2], strides=[2, 2], dilations=[2**62, 1])
    )


def test_garbage_attribute_bytes_are_a_validation_problem() -> None:
    model = _pooled(kernel_shape=[2, 2], strides=[2, 2])
    model.network.layers[0].onnx_node.attributes.append(b"\xff\xff\xff")
    assert "is not a serialized ONNX AttributeProto" in _only(model)


def test_unknown_and_mistyped_attributes_are_problems_naming_the_schema() -> None:
    model = _pooled(kernel_shape=[2, 2], stride=[2, 2])
    assert "MaxPool has no attribute 'stride'" in _only(model)
    assert "strides" in find_problems(model)[0].fix
    model = _pooled(kernel_shape=[2, 2], strides=2.0)
    assert "declares type 7" in _only(model)


def test_an_operator_onnx_does_not_have_is_a_problem() -> None:
    model = _pooled(kernel_shape=[2, 2])
    model.network.layers[0].onnx_node.op_type = "Maxpool"
    assert "'Maxpool' is not an operator of the ONNX domain 'ai.onnx'" in _only(model)


def test_required_attribute_missing_is_caught_by_onnxs_checker() -> None:
    assert "ONNX's checker refuses the node" in _only(_pooled(strides=[2, 2]))


@pytest.mark.parametrize("command", ["convert", "train"])
def test_convert_and_train_of_zero_strides_end_in_one_line_not_sigfpe(command: str, tmp_path: Path) -> None:
    save(_pooled(kernel_shape=[2, 2], strides=[0, 0]), tmp_path / "pool.mlspec")
    np.savez(
        tmp_path / "data.npz",
        x=np.zeros((4, 1, 4, 4), np.float32),
        label=np.array(["a", "b", "a", "b"]),
    )
    args = {
        "convert": ("convert", "pool.mlspec", "-o", "artifacts"),
        "train": ("train", "pool.mlspec", "--data", "data.npz", "-o", "out.mlspec"),
    }[command]
    done = mlspec(*args, cwd=tmp_path)
    assert done.returncode == 1, (done.returncode, done.stderr)
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "strides" in lines[0], done.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.npz", "pool.mlspec"]
