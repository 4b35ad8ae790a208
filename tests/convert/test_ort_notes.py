"""Each docs/ORT_FINDINGS.md fact the converter and backend rely on, checked against ORT training 1.19.2.

If an ORT upgrade changes one of these, the test names the assumption that broke.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime
import pytest
from onnx import TensorProto, helper, numpy_helper

from mlspec.backends.ort_training import ort as ort_backend
from mlspec.backends.ort_training.ort import onnxblock, ort_api, ort_artifacts
from mlspec.convert.artifact_graphs import finish_eval_model

onnxruntime.set_default_logger_severity(3)
RNG = np.random.default_rng(7)
W = RNG.normal(size=(3, 4)).astype(np.float32)
X = RNG.normal(size=(5, 4)).astype(np.float32)
Y = RNG.integers(0, 3, size=5).astype(np.int64)


def _linear(
    extra_nodes: list[onnx.NodeProto] | None = None,
    extra_init: list[onnx.TensorProto] | None = None,
    output: str = "logits",
) -> onnx.ModelProto:
    nodes = [
        helper.make_node("Gemm", ["x", "fc.weights"], ["logits"], transB=1, name="fc"),
        *(extra_nodes or []),
    ]
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info(output, TensorProto.FLOAT, ["batch", 3])],
        [numpy_helper.from_array(W, "fc.weights"), *(extra_init or [])],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)], ir_version=10)


def _generate(model: onnx.ModelProto, directory: Path, **kwargs: object) -> Path:
    directory.mkdir(exist_ok=True)
    options: dict[str, object] = {
        "requires_grad": ["fc.weights"],
        "loss": ort_artifacts.LossType.CrossEntropyLoss,
        "optimizer": ort_artifacts.OptimType.SGD,
    }
    options.update(kwargs)
    ort_artifacts.generate_artifacts(model, artifact_directory=os.fspath(directory), **options)
    return directory


# onnxruntime.training ships no type information, so mypy sees its objects as Any; these names
# say which class each value is.
CheckpointState = Any  # onnxruntime.training.api.CheckpointState
Module = Any  # onnxruntime.training.api.Module
Optimizer = Any  # onnxruntime.training.api.Optimizer


def _session(directory: Path) -> tuple[CheckpointState, Module, Optimizer]:
    state = ort_api.CheckpointState.load_checkpoint(os.fspath(directory / "checkpoint"))
    module = ort_api.Module(
        os.fspath(directory / "training_model.onnx"), state, os.fspath(directory / "eval_model.onnx")
    )
    optimizer = ort_api.Optimizer(os.fspath(directory / "optimizer_model.onnx"), module)
    return state, module, optimizer


def test_the_adapter_imports_training_without_torch() -> None:
    code = (
        "import sys; import mlspec.backends.ort_training.ort as b; "
        "assert b.ort_api.Module and b.onnxblock.Block; print('torch' in sys.modules)"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"


def test_generate_artifacts_needs_an_existing_directory(tmp_path: Path) -> None:
    with pytest.raises(Exception, match=r"(?i)no such file|not exist|fail"):
        ort_artifacts.generate_artifacts(
            _linear(),
            requires_grad=["fc.weights"],
            loss=ort_artifacts.LossType.CrossEntropyLoss,
            artifact_directory=os.fspath(tmp_path / "missing"),
        )
    written = _generate(_linear(), tmp_path / "present")
    assert {"training_model.onnx", "eval_model.onnx", "optimizer_model.onnx", "checkpoint"} <= set(
        os.listdir(written)
    )


def test_builtin_loss_output_names_come_from_a_process_wide_counter(tmp_path: Path) -> None:
    names = []
    for index in range(2):
        directory = _generate(_linear(), tmp_path / str(index))
        names.append(onnx.load(os.fspath(directory / "training_model.onnx")).graph.output[0].name)
    assert names[0] != names[1]


def test_cross_entropy_with_a_weight_array_raises() -> None:
    with pytest.raises(ValueError, match="truth value"), onnxblock.base(_linear()):
        onnxblock.loss.CrossEntropyLoss(weight=np.ones(3, np.float32))("logits", "labels")


def test_learning_rate_resets_on_reload_while_step_state_survives(tmp_path: Path) -> None:
    directory = _generate(_linear(), tmp_path / "a", optimizer=ort_artifacts.OptimType.AdamW)
    state, module, optimizer = _session(directory)
    optimizer.set_learning_rate(0.25)
    module(X, Y)
    optimizer.step()
    ort_api.CheckpointState.save_checkpoint(state, os.fspath(tmp_path / "ckpt"), include_optimizer_state=True)
    reloaded = ort_api.CheckpointState.load_checkpoint(os.fspath(tmp_path / "ckpt"))
    module2 = ort_api.Module(
        os.fspath(directory / "training_model.onnx"), reloaded, os.fspath(directory / "eval_model.onnx")
    )
    optimizer2 = ort_api.Optimizer(os.fspath(directory / "optimizer_model.onnx"), module2)
    assert optimizer2.get_learning_rate() == pytest.approx(0.001)
    np.testing.assert_array_equal(reloaded.parameters["fc.weights"].data, state.parameters["fc.weights"].data)


def test_gradients_accumulate_until_lazy_reset_grad(tmp_path: Path) -> None:
    state, module, _ = _session(_generate(_linear(), tmp_path / "a"))
    module(X, Y)
    once = np.array(state.parameters["fc.weights"].grad)
    module(X, Y)
    np.testing.assert_allclose(state.parameters["fc.weights"].grad, 2 * once, rtol=1e-6)
    module.lazy_reset_grad()
    module(X, Y)
    np.testing.assert_allclose(state.parameters["fc.weights"].grad, once, rtol=1e-6)


def test_cross_entropy_labels_must_be_int64(tmp_path: Path) -> None:
    _, module, _ = _session(_generate(_linear(), tmp_path / "a"))
    module(X, Y)
    with pytest.raises(Exception, match=r"(?i)type|int64"):
        module(X, Y.astype(np.int32))


def _dropout_model(with_training_mode: bool) -> onnx.ModelProto:
    inputs = ["logits", "rate", "training_mode"] if with_training_mode else ["logits", "rate"]
    dropout = helper.make_node("Dropout", inputs, ["dropped", "mask"], name="drop", seed=3)
    constants = [
        numpy_helper.from_array(np.array(0.5, np.float32), "rate"),
        numpy_helper.from_array(np.array(True), "training_mode"),
    ]
    return _linear([dropout], constants, output="dropped")


def test_dropout_needs_a_training_mode_input_to_drop_in_training(tmp_path: Path) -> None:
    exported = []
    for flag in (False, True):
        directory = _generate(
            _dropout_model(flag),
            tmp_path / str(flag),
            loss=ort_artifacts.LossType.MSELoss,
            additional_output_names=["dropped"],
        )
        _, module, _ = _session(directory)
        target = np.zeros((5, 3), np.float32)
        exported.append(module(X, target)[1])
    plain = X @ W.T
    np.testing.assert_allclose(exported[0], plain, rtol=1e-6)
    assert np.any(exported[1] == 0.0)
    assert not np.allclose(exported[1], plain)


def _batch_norm_model() -> onnx.ModelProto:
    norm = helper.make_node(
        "BatchNormalization",
        ["logits", "bn.gamma", "bn.beta", "bn.running_mean", "bn.running_variance"],
        ["normed", "bn/new_mean", "bn/new_variance"],
        name="bn",
        training_mode=1,
        momentum=0.9,
    )
    constants = [
        numpy_helper.from_array(np.ones(3, np.float32), "bn.gamma"),
        numpy_helper.from_array(np.zeros(3, np.float32), "bn.beta"),
        numpy_helper.from_array(np.zeros(3, np.float32), "bn.running_mean"),
        numpy_helper.from_array(np.ones(3, np.float32), "bn.running_variance"),
    ]
    return _linear([norm], constants, output="normed")


def test_batch_norm_running_statistics_need_the_recipe(tmp_path: Path) -> None:
    directory = _generate(
        _batch_norm_model(),
        tmp_path / "bn",
        requires_grad=["fc.weights", "bn.gamma", "bn.beta"],
        frozen_params=["bn.running_mean", "bn.running_variance"],
        additional_output_names=["bn/new_mean", "bn/new_variance"],
    )
    with pytest.raises(RuntimeError, match="number of op outputs should be 1"):
        _session(directory)  # the eval model keeps the training-only outputs until stripped
    eval_model = finish_eval_model(
        onnx.load(os.fspath(directory / "eval_model.onnx")),
        running_outputs=["bn/new_mean", "bn/new_variance"],
        model_outputs=[],
        dropout_mode_inputs=[],
    )
    onnx.save(eval_model, os.fspath(directory / "eval_model.onnx"))
    state, module, _ = _session(directory)
    outputs = module(X, Y)
    batch = X @ W.T
    np.testing.assert_allclose(outputs[1], 0.1 * batch.mean(axis=0), rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(state.parameters["bn.running_mean"].data, np.zeros(3))  # ORT leaves them
    state.parameters["bn.running_mean"] = outputs[1]
    state.parameters["bn.running_variance"] = outputs[2]
    np.testing.assert_allclose(state.parameters["bn.running_mean"].data, outputs[1])
    evaluated = module.eval()(X, Y)
    mean, variance = outputs[1], outputs[2]
    normed = (batch - mean) / np.sqrt(variance + 1e-5)
    shifted = normed - normed.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    assert float(evaluated) == pytest.approx(-log_probs[np.arange(5), Y].mean(), rel=1e-5)


def test_optimizer_model_is_ir_10_or_lower_and_regenerates_against_the_same_state(tmp_path: Path) -> None:
    directory = _generate(_linear(), tmp_path / "a", optimizer=ort_artifacts.OptimType.AdamW)
    rebuilt = ort_backend.build_optimizer_model(
        "adamw", {"beta1": 0.5, "beta2": 0.9, "eps": 1e-3, "weight_decay": 0.0}, 21
    )
    assert rebuilt.ir_version <= 10
    onnx.save(rebuilt, os.fspath(tmp_path / "rebuilt.onnx"))
    state = ort_api.CheckpointState.load_checkpoint(os.fspath(directory / "checkpoint"))
    module = ort_api.Module(
        os.fspath(directory / "training_model.onnx"), state, os.fspath(directory / "eval_model.onnx")
    )
    optimizer = ort_api.Optimizer(os.fspath(tmp_path / "rebuilt.onnx"), module)
    before = state.parameters["fc.weights"].data.copy()
    module(X, Y)
    optimizer.step()
    assert not np.array_equal(before, state.parameters["fc.weights"].data)


def test_eval_on_a_module_without_an_eval_model_kills_the_process(tmp_path: Path) -> None:
    """Why TrainingSession always hands Module the eval model."""
    directory = _generate(_linear(), tmp_path / "a")
    code = (
        "import sys, numpy as np; from mlspec.backends.ort_training.ort import ort_api; d = sys.argv[1]; "
        "s = ort_api.CheckpointState.load_checkpoint(d + '/checkpoint'); "
        "m = ort_api.Module(d + '/training_model.onnx', s); m.eval(); "
        "m(np.zeros((2, 4), np.float32), np.zeros(2, np.int64)); print('survived')"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, os.fspath(directory)], check=False, capture_output=True, text=True
    )
    assert "survived" not in result.stdout
    assert result.returncode != 0


def test_generation_logs_are_kept_off_stderr(tmp_path: Path) -> None:
    """ORT prints ~20 native info lines per generation; the adapter swallows them."""
    code = (
        "import sys; from pathlib import Path; from tests.support.specs import mlp; "
        "from mlspec.backends import to_training_artifacts; to_training_artifacts(mlp(), Path(sys.argv[1]))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, os.fspath(tmp_path / "out")],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).parents[2],
    )
    assert result.stderr == ""
    assert (tmp_path / "out" / "manifest.json").is_file()


def test_parameters_given_as_graph_inputs_train_from_a_separately_written_checkpoint(tmp_path: Path) -> None:
    """What generate_training_models relies on to keep the weights out of ORT's generator."""
    model = _linear()
    del model.graph.initializer[:]
    model.graph.input.append(helper.make_tensor_value_info("fc.weights", TensorProto.FLOAT, [3, 4]))
    directory = _generate(model, tmp_path / "a", optimizer=None)  # ORT's would find no parameters
    onnx.save(ort_backend.build_optimizer_model("sgd", {}, 21), os.fspath(directory / "optimizer_model.onnx"))
    onnxblock.save_checkpoint(
        ([numpy_helper.from_array(W, "fc.weights")], []), os.fspath(directory / "checkpoint")
    )
    state, module, _ = _session(directory)
    module(X, Y)
    logits = X.astype(np.float64) @ W.T
    probabilities = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities /= probabilities.sum(axis=1, keepdims=True)
    probabilities[np.arange(5), Y] -= 1.0
    expected = probabilities.T @ X / 5
    np.testing.assert_allclose(state.parameters["fc.weights"].grad, expected, rtol=1e-5, atol=1e-7)
