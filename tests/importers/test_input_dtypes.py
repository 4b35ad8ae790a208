"""Inputs of dtype int32, int8, uint8 and bool import and train, each in a graph written the way
exporters write it: token ids looked up by Gather, uint8 pixels and int8 features cast to float,
a boolean mask applied with Where.

Each model is imported, its export checked against the original in ONNX Runtime, and its final
Gemm trained one SGD step on each training backend. The bias after that step must be
the one the mean-squared-error gradient gives, written out with numpy: d/db_j of
mean((y - t)^2) over an [N, K] output is 2 / (N K) * sum_n (y_nj - t_nj).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest
from onnx import TensorProto

from mlspec.builder import NetworkBuilder, SgdParams
from mlspec.convert.importers import import_onnx
from mlspec.runtime import Trainer
from mlspec.spec.errors import MlspecError
from mlspec.spec.weights import to_numpy
from tests.importers.onnx_models import GraphBuilder, assert_export_matches
from tests.support.optim_reference import mse_gradient

LR = 0.1
BATCH = 4


def _head(b: GraphBuilder, features: str, width: int) -> None:
    b.node(
        "Gemm", [features, b.random("fc.weight", 3, width), b.random("fc.bias", 3)], transB=1, name="/fc/Gemm"
    )


def _token_ids(b: GraphBuilder) -> tuple[int, list[int | str]]:
    """torch: nn.Embedding over int32 ids, mean over the sequence, then a linear layer."""
    looked_up = b.node("Gather", [b.random("embedding.weight", 10, 4), "x"], axis=0, name="/embedding/Gather")
    _head(b, b.node("ReduceMean", [looked_up], axes=[1], keepdims=0, name="/ReduceMean"), 4)
    return TensorProto.INT32, ["batch", 5]


def _cast_features(elem_type: int) -> Callable[[GraphBuilder], tuple[int, list[int | str]]]:
    """Integer features cast to float and scaled (tf2onnx's uint8 images, a quantised input)."""

    def build(b: GraphBuilder) -> tuple[int, list[int | str]]:
        floats = b.node("Cast", ["x"], to=TensorProto.FLOAT, name="/Cast")
        scaled = b.node("Div", [floats, b.weight("scale", np.array(255.0, np.float32))], name="/Div")
        _head(b, scaled, 6)
        return elem_type, ["batch", 6]

    return build


def _mask(b: GraphBuilder) -> tuple[int, list[int | str]]:
    """torch: features.masked_fill(~mask, 0) on a float input beside a bool mask input."""
    kept = b.node("Where", ["x", "values", b.weight("zero", np.array(0.0, np.float32))], name="/Where")
    _head(b, kept, 6)
    return TensorProto.BOOL, ["batch", 6]


GRAPHS = {
    "int32": _token_ids,
    "int8": _cast_features(TensorProto.INT8),
    "uint8": _cast_features(TensorProto.UINT8),
}
GRAPHS["bool"] = _mask


def _data(dtype: str, rng: np.random.Generator) -> dict[str, np.ndarray]:
    if dtype == "int32":
        return {"x": rng.integers(0, 10, size=(BATCH, 5)).astype(np.int32)}
    if dtype == "bool":
        return {"x": rng.random((BATCH, 6)) > 0.5, "values": rng.normal(size=(BATCH, 6)).astype(np.float32)}
    info = np.iinfo(np.dtype(dtype))
    return {"x": rng.integers(info.min, info.max, size=(BATCH, 6), endpoint=True).astype(dtype)}


@pytest.mark.parametrize("backend", ["ort-training", "portable"])
@pytest.mark.parametrize("dtype", sorted(GRAPHS))
def test_an_input_of_this_dtype_imports_and_trains_as_the_gradient_says(dtype: str, backend: str) -> None:
    b = GraphBuilder(opset=13)
    elem_type, dims = GRAPHS[dtype](b)
    inputs = [("x", elem_type, dims)]
    if dtype == "bool":
        inputs.append(("values", TensorProto.FLOAT, ["batch", 6]))
    original = b.build(inputs, [b.nodes[-1].output[0]])
    spec = import_onnx(original)
    rng = np.random.default_rng(len(dtype))
    data = _data(dtype, rng)
    outputs = assert_export_matches(original, spec, data)

    builder = NetworkBuilder.edit(spec)
    builder.make_updatable(["fc_Gemm"])
    builder.set_loss("mean_squared_error", "output_0")
    builder.set_optimizer(SgdParams(lr=LR, batch=BATCH))
    builder.set_epochs(1)
    head = next(layer for layer in builder.spec.network.layers if layer.name == "fc_Gemm")
    bias = to_numpy(head.inner_product.bias, "fc bias").astype(np.float64)
    target = rng.normal(size=(BATCH, 3)).astype(np.float32)
    # No feature cache: the training graph itself takes the input (the cached path feeds features).
    with Trainer.from_spec(builder.spec, backend=backend, shuffle=False, feature_cache=False) as trainer:
        trainer.train((*data.values(), target))
        trained = trainer.parameters()["fc_Gemm.bias"]
    gradient = mse_gradient(outputs["output_0"].astype(np.float64), target).sum(axis=0)
    np.testing.assert_allclose(trained, bias - LR * gradient, rtol=1e-5, atol=1e-6)


def test_integer_data_that_does_not_fit_the_input_is_refused_by_name() -> None:
    b = GraphBuilder(opset=13)
    elem_type, dims = _cast_features(TensorProto.UINT8)(b)
    spec = import_onnx(b.build([("x", elem_type, dims)], [b.nodes[-1].output[0]]))
    builder = NetworkBuilder.edit(spec)
    builder.make_updatable(["fc_Gemm"])
    builder.set_loss("mean_squared_error", "output_0")
    builder.set_optimizer(SgdParams(lr=LR, batch=BATCH))
    builder.set_epochs(1)
    wide = np.full((BATCH, 6), 300, np.int64)
    with (
        Trainer.from_spec(builder.spec) as trainer,
        pytest.raises(MlspecError, match=r"'x' holds values 300\.\.300.*0\.\.255"),
    ):
        trainer.train((wide, np.zeros((BATCH, 3), np.float32)))
