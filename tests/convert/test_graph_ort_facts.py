"""The onnxruntime-training 1.19.2 behaviours the converter's training forms are built around.

Each test builds a raw ONNX graph, so it shows ORT's behaviour rather than mlspec's. If a future
onnxruntime-training changes one of them, its test fails and names the workaround in
mlspec/convert/emitters that may then go.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime
import pytest

import mlspec.backends.ort_training.ort  # noqa: F401 - makes onnxruntime.training importable without torch

# isort: split
from onnxruntime.training import artifacts
from onnxruntime.training.api import CheckpointState, Module

F32 = np.float32
FLOAT = onnx.TensorProto.FLOAT


def conv_then(
    node: onnx.NodeProto, output_dims: list[Any], constants: dict[str, Any] | None = None
) -> onnx.ModelProto:
    """x [n, 1, 4, 4] -> Conv with trainable "W" -> `node` (reading "c", writing "y")."""
    initializers = [onnx.numpy_helper.from_array(np.ones((2, 1, 2, 2), F32), "W")]
    initializers += [onnx.numpy_helper.from_array(value, name) for name, value in (constants or {}).items()]
    conv = onnx.helper.make_node("Conv", ["x", "W"], ["c"], kernel_shape=[2, 2])
    x = onnx.helper.make_tensor_value_info("x", FLOAT, ["n", 1, 4, 4])
    y = onnx.helper.make_tensor_value_info("y", FLOAT, output_dims)
    graph = onnx.helper.make_graph([conv, node], "probe", [x], [y], initializers)
    return onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 21)], ir_version=10)


def generate(model: onnx.ModelProto, directory: Path, frozen: list[str] | None = None) -> None:
    directory.mkdir()
    artifacts.generate_artifacts(
        model,
        requires_grad=["W"],
        frozen_params=frozen or [],
        loss=artifacts.LossType.L1Loss,
        optimizer=artifacts.OptimType.SGD,
        artifact_directory=directory,
    )


@pytest.mark.parametrize("op_type", ["Elu", "Softplus", "HardSigmoid", "HardSwish", "GlobalMaxPool", "Sum"])
def test_ops_rewritten_on_training_paths_have_no_gradient(op_type: str, tmp_path: Path) -> None:
    model = conv_then(onnx.helper.make_node(op_type, ["c"], ["y"]), ["n", 2, None, None])
    with pytest.raises(RuntimeError, match="GetGradientForOp"):
        generate(model, tmp_path / "artifacts")


def test_an_op_with_a_gradient_generates(tmp_path: Path) -> None:
    """The control for the test above: the same graph with Relu generates."""
    generate(conv_then(onnx.helper.make_node("Relu", ["c"], ["y"]), ["n", 2, 3, 3]), tmp_path / "artifacts")
    assert (tmp_path / "artifacts" / "training_model.onnx").exists()


def test_layer_norm_must_declare_its_statistics(tmp_path: Path) -> None:
    constants = {"ln_gamma": np.ones(3, F32), "ln_beta": np.zeros(3, F32)}
    inputs = ["c", "ln_gamma", "ln_beta"]
    bare = onnx.helper.make_node("LayerNormalization", inputs, ["y"], axis=-1)
    with pytest.raises(RuntimeError, match="OutputDefs"):
        generate(conv_then(bare, ["n", 2, 3, 3], constants), tmp_path / "bare", frozen=list(constants))
    declared = onnx.helper.make_node("LayerNormalization", inputs, ["y", "ln_mean", "ln_inv_std"], axis=-1)
    generate(conv_then(declared, ["n", 2, 3, 3], constants), tmp_path / "declared", frozen=list(constants))


def _conv_weight_gradient(conv_attributes: dict[str, Any], tmp_path: Path) -> np.ndarray[Any, Any]:
    """ORT's gradient of mean(Conv(x, W)) with respect to W, straight from generate_artifacts."""
    weights = onnx.numpy_helper.from_array(np.ones((1, 1, 3, 3), F32), "W")
    node = onnx.helper.make_node(
        "Conv", ["x", "W"], ["y"], kernel_shape=[3, 3], strides=[2, 2], **conv_attributes
    )
    x_info = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, ["n", 1, "h", "w"])
    y_info = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, ["n", 1, "oh", "ow"])
    graph = onnx.helper.make_graph([node], "conv", [x_info], [y_info], [weights])
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 21)], ir_version=10)
    out = tmp_path / str(len(list(tmp_path.iterdir())))
    generate(model, out)
    state = CheckpointState.load_checkpoint(str(out / "checkpoint"))
    module = Module(str(out / "training_model.onnx"), state, str(out / "eval_model.onnx"))
    module.train()
    x = np.arange(30, dtype=F32).reshape(1, 1, 5, 6)
    module(x, np.full((1, 1, 3, 3), -1e6, F32))  # L1 against a far target: the gradient of sum(y)/9
    return np.asarray(state.parameters["W"].grad)


def test_ort_conv_gradient_ignores_auto_pad(tmp_path: Path) -> None:
    """Why auto_pad is refused on training paths: the same geometry, two different gradients.

    SAME_UPPER on a 5 x 6 input with stride 2 and a 3 x 3 kernel pads one cell on every side;
    explicit pads of 1 give the true gradient. If ORT fixes this, the test fails and the
    refusal in mlspec/convert/emitters/padding.py can go.
    """
    explicit = _conv_weight_gradient({"pads": [1, 1, 1, 1]}, tmp_path)
    automatic = _conv_weight_gradient({"auto_pad": "SAME_UPPER"}, tmp_path)
    x = np.pad(np.arange(30, dtype=np.float64).reshape(5, 6), 1)
    expected = np.array([[x[p : p + 5 : 2, q : q + 6 : 2].sum() / 9 for q in range(3)] for p in range(3)])
    np.testing.assert_allclose(explicit[0, 0], expected, rtol=1e-5)
    assert not np.allclose(automatic, explicit)


_AVERAGE_POOL_TRAINING = """
import os, sys, tempfile
import numpy as np
from onnx import TensorProto, helper, numpy_helper
import mlspec.backends.ort_training.ort  # makes onnxruntime.training importable without torch
from onnxruntime.training import artifacts
from onnxruntime.training.api import CheckpointState, Module

def train_step(batch):
    weights = numpy_helper.from_array(np.ones((2, 1, 2, 2), np.float32), "W")
    nodes = [
        helper.make_node("Conv", ["x", "W"], ["c"], kernel_shape=[2, 2]),
        helper.make_node("AveragePool", ["c"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("Flatten", ["p"], ["y"]),
    ]
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 1, 5, 5])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 8])
    graph = helper.make_graph(nodes, "g", [x], [y], [weights])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)], ir_version=10)
    out = tempfile.mkdtemp()
    loss, optimizer = artifacts.LossType.MSELoss, artifacts.OptimType.SGD
    artifacts.generate_artifacts(model, requires_grad=["W"], frozen_params=[], loss=loss,
                                 optimizer=optimizer, artifact_directory=out)
    state = CheckpointState.load_checkpoint(os.path.join(out, "checkpoint"))
    module = Module(os.path.join(out, "training_model.onnx"), state, os.path.join(out, "eval_model.onnx"))
    module.train()
    module(np.ones((4, 1, 5, 5), np.float32), np.zeros((4, 8), np.float32))

train_step(4)
print("fixed batch trains", flush=True)
train_step("batch")
print("symbolic batch trains", flush=True)
"""


def test_ort_average_pool_gradient_dies_with_a_symbolic_batch(tmp_path: Path) -> None:
    """Why average pooling is rewritten: the plain op's gradient kills the process (SIGFPE).

    If a future onnxruntime-training fixes this, this test fails and the rewrite can go.
    """
    script = tmp_path / "average_pool_training.py"
    script.write_text(_AVERAGE_POOL_TRAINING)
    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        cwd=root,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": str(root)},
    )
    assert "fixed batch trains" in result.stdout, result.stderr[-2000:]
    assert "symbolic batch trains" not in result.stdout
    assert result.returncode == -signal.SIGFPE


@pytest.mark.parametrize(("values", "runs"), [(np.float32, True), (np.float64, False)])
def test_one_hot_has_no_float64_kernel(values: type[np.floating[Any]], runs: bool) -> None:
    """Why the k-NN export and the portable cross-entropy compare labels with class indices."""
    dtype = onnx.helper.np_dtype_to_tensor_dtype(np.dtype(values))
    initializers = [
        onnx.numpy_helper.from_array(np.array(4, np.int64), "depth"),
        onnx.numpy_helper.from_array(np.array([0, 1], values), "values"),
    ]
    labels = onnx.helper.make_tensor_value_info("labels", onnx.TensorProto.INT64, [3])
    y = onnx.helper.make_tensor_value_info("y", dtype, [3, 4])
    node = onnx.helper.make_node("OneHot", ["labels", "depth", "values"], ["y"])
    graph = onnx.helper.make_graph([node], "probe", [labels], [y], initializers)
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 21)], ir_version=10)
    if runs:
        session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        (out,) = session.run(None, {"labels": np.array([0, 3, 1])})
        np.testing.assert_array_equal(out, np.eye(4, dtype=values)[[0, 3, 1]])
    else:
        with pytest.raises(onnxruntime.capi.onnxruntime_pybind11_state.NotImplemented, match="OneHot"):
            onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def test_a_session_warns_about_an_initializer_no_node_reads(capfd: pytest.CaptureFixture[str]) -> None:
    """Why finish_eval_model drops the dropout switches the generator left without a reader."""
    x = onnx.helper.make_tensor_value_info("x", FLOAT, [2])
    y = onnx.helper.make_tensor_value_info("y", FLOAT, [2])
    orphan = onnx.numpy_helper.from_array(np.array(False), "training_mode")
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Identity", ["x"], ["y"])], "probe", [x], [y], [orphan]
    )
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 21)], ir_version=10)
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 2  # warnings
    onnxruntime.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    assert "Removing initializer 'training_mode'" in capfd.readouterr().err
