"""Run an emitted ONNX model in onnxruntime and hold it against mlspec.reference.

Tolerance: rtol 1e-5 as the issue asks, plus an absolute floor of 1e-6 times the output's
largest magnitude (at least 1). ORT computes in float32 and the reference in float64, so a
value that is a sum of many terms cancelling to near zero carries float32 rounding of the
terms (about 1e-7 each), which no relative tolerance on the tiny result can absorb.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort

from mlspec._proto import model_pb2
from mlspec.convert import to_onnx
from mlspec.reference import evaluate

RTOL = 1e-5
ATOL_SCALE = 1e-6

Feeds = Mapping[str, npt.NDArray[Any]]


def check_contract(onnx_model: onnx.ModelProto, model: model_pb2.Model) -> None:
    """Checker, opset/IR limits, and node names that trace back to a layer."""
    onnx.checker.check_model(onnx_model, full_check=True)
    assert onnx_model.ir_version <= 10
    default = [entry.version for entry in onnx_model.opset_import if entry.domain in ("", "ai.onnx")]
    assert default and max(default) <= 21
    layer_names = [layer.name for layer in model.network.layers]
    for node in onnx_model.graph.node:
        assert any(node.name == name or node.name.startswith(f"{name}/") for name in layer_names), node.name
    assert [i.name for i in onnx_model.graph.input] == [f.name for f in model.description.inputs]


def run_onnx(onnx_model: onnx.ModelProto, feeds: Feeds) -> dict[str, npt.NDArray[Any]]:
    session = ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(names, dict(feeds)), strict=True))


def assert_close(got: npt.NDArray[Any], expected: npt.NDArray[Any], name: str = "") -> None:
    if not np.issubdtype(np.asarray(expected).dtype, np.floating):
        assert np.asarray(got).tolist() == np.asarray(expected).tolist(), name
        return
    assert got.shape == expected.shape, (name, got.shape, expected.shape)
    scale = max(1.0, float(np.abs(expected).max(initial=0.0)))
    np.testing.assert_allclose(got, expected, rtol=RTOL, atol=ATOL_SCALE * scale, err_msg=name)


def assert_forward_matches(
    model: model_pb2.Model, feeds: Feeds, onnx_model: onnx.ModelProto | None = None, **reference: Any
) -> dict[str, npt.NDArray[Any]]:
    """Every graph output of the (default: inference) ONNX model equals the float64 reference."""
    emitted = onnx_model if onnx_model is not None else to_onnx(model)
    check_contract(emitted, model)
    got = run_onnx(emitted, feeds)
    expected = evaluate(model, feeds, dtype=np.float64, outputs=list(got), **reference)
    for name, value in got.items():
        assert_close(value, expected[name], name)
    return got
