"""Check add_gradients against central finite differences, both run through onnxruntime.

A test gives a few forward nodes and their inputs; the helper closes the graph with the loss
sum(output * R) for a fixed random R (so every output element matters with its own weight),
differentiates it with add_gradients, and compares each requested gradient with
(loss(x + h e_i) - loss(x - h e_i)) / 2h computed by running the forward model element by element.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TypedDict

import numpy as np
import onnx
import onnxruntime
from onnx import helper, numpy_helper

from mlspec.backends.portable.autodiff import add_gradients

_TYPES = {np.dtype(np.float32): onnx.TensorProto.FLOAT, np.dtype(np.float64): onnx.TensorProto.DOUBLE}


def _session(model: onnx.ModelProto) -> onnxruntime.InferenceSession:
    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_DISABLE_ALL
    return onnxruntime.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def _value_info(name: str, array: np.ndarray, symbolic_batch: bool) -> onnx.ValueInfoProto:
    dtype = _TYPES.get(array.dtype) or helper.np_dtype_to_tensor_dtype(array.dtype)
    dims: list[int | str] = list(array.shape)
    if symbolic_batch and dims:
        dims[0] = "batch"
    return helper.make_tensor_value_info(name, dtype, dims)


def forward_model(
    nodes: Sequence[onnx.NodeProto],
    inputs: Mapping[str, np.ndarray],
    output: str,
    *,
    constants: Mapping[str, np.ndarray] | None = None,
    symbolic_batch: Sequence[str] = (),
    seed: int = 0,
) -> onnx.ModelProto:
    """The forward graph of `nodes` closed by loss = ReduceSum(output * R)."""
    probe = helper.make_model(
        helper.make_graph(
            list(nodes),
            "probe",
            [_value_info(name, value, False) for name, value in inputs.items()],
            [helper.make_value_info(output, onnx.TypeProto())],
            [numpy_helper.from_array(value, name) for name, value in (constants or {}).items()],
        ),
        opset_imports=[helper.make_opsetid("", 21)],
        ir_version=10,
    )
    shape = _session(probe).run([output], dict(inputs))[0]
    weights = np.random.default_rng(seed).normal(size=shape.shape).astype(shape.dtype)
    loss_nodes = [
        helper.make_node("Mul", [output, "loss_weights"], ["weighted"], name="loss_mul"),
        helper.make_node("ReduceSum", ["weighted"], ["loss"], name="loss_sum", keepdims=0),
    ]
    graph = helper.make_graph(
        [*nodes, *loss_nodes],
        "check",
        [_value_info(name, value, name in symbolic_batch) for name, value in inputs.items()],
        [helper.make_tensor_value_info("loss", _TYPES[shape.dtype], [])],
        [
            *(numpy_helper.from_array(value, name) for name, value in (constants or {}).items()),
            numpy_helper.from_array(weights, "loss_weights"),
        ],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)], ir_version=10)


def numeric_gradient(
    model: onnx.ModelProto, inputs: Mapping[str, np.ndarray], name: str, step: float
) -> np.ndarray:
    session = _session(model)
    base = {key: value.copy() for key, value in inputs.items()}
    flat = base[name].reshape(-1)
    grad = np.zeros(flat.shape, dtype=np.float64)
    for index in range(flat.size):
        original = flat[index]
        flat[index] = original + step
        plus = float(session.run(["loss"], base)[0])
        flat[index] = original - step
        minus = float(session.run(["loss"], base)[0])
        flat[index] = original
        grad[index] = (plus - minus) / (2 * step)
    return grad.reshape(base[name].shape)


def analytic_gradients(
    model: onnx.ModelProto, inputs: Mapping[str, np.ndarray], wrt: Sequence[str]
) -> dict[str, np.ndarray]:
    with_grads = add_gradients(model, "loss", wrt)
    onnx.checker.check_model(with_grads, full_check=True)
    names = [f"{name}_grad" for name in wrt]
    return dict(zip(wrt, _session(with_grads).run(names, dict(inputs)), strict=True))


class Tolerance(TypedDict, total=False):
    """check_gradients' tolerances, spread into a call with ** (float32 cases loosen both)."""

    rtol: float
    atol: float


def check_gradients(
    nodes: Sequence[onnx.NodeProto],
    inputs: Mapping[str, np.ndarray],
    wrt: Sequence[str],
    output: str = "y",
    *,
    constants: Mapping[str, np.ndarray] | None = None,
    symbolic_batch: Sequence[str] = (),
    rtol: float = 1e-6,
    atol: float = 1e-8,
) -> dict[str, np.ndarray]:
    """Assert analytic == numeric for every name in wrt; returns the analytic gradients."""
    model = forward_model(nodes, inputs, output, constants=constants, symbolic_batch=symbolic_batch)
    analytic = analytic_gradients(model, inputs, wrt)
    for name in wrt:
        value = inputs[name]
        step = 1e-6 if value.dtype == np.float64 else 1e-2
        numeric = numeric_gradient(model, inputs, name, step)
        assert analytic[name].shape == value.shape, name
        assert analytic[name].dtype == value.dtype, name
        np.testing.assert_allclose(
            analytic[name], numeric, rtol=rtol, atol=atol, err_msg=f"gradient of {name}"
        )
    return analytic


def rand(*shape: int, seed: int = 0, dtype: type = np.float64) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=shape).astype(dtype)
