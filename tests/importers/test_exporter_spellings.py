"""How real exporters spell things that mlspec must read the way they mean it."""

from __future__ import annotations

import numpy as np
from onnx import TensorProto

from mlspec.builder import NetworkBuilder, SgdParams
from mlspec.convert.importers import import_onnx
from mlspec.runtime import Trainer
from mlspec.spec.validate import find_problems
from tests.importers.onnx_models import GraphBuilder, assert_export_matches, image_batch


def _conv_taking(dims: list[int | str]) -> tuple[GraphBuilder, object]:
    b = GraphBuilder(opset=11)
    conv = b.node("Conv", ["x", b.random("w", 2, 3, 1, 1)], name="conv")
    return b, b.build([("x", TensorProto.FLOAT, dims)], [conv], output_names=["y"])


def test_zero_sizes_become_symbols() -> None:
    """Some tools declare an unknown size as 0, which no model's interface means literally."""
    _, original = _conv_taking([0, 3, 8, 0])
    spec = import_onnx(original)  # type: ignore[arg-type]
    dims = [(d.size, d.symbol) for d in spec.description.inputs[0].type.tensor.shape]
    assert dims == [(0, "batch"), (3, ""), (8, ""), (0, "x_dim3")]


def test_minus_one_sizes_become_symbols_and_train() -> None:
    """paddle2onnx declares unknown sizes as -1: PaddleOCR's classifier takes x [-1, 3, -1, -1]."""
    _, original = _conv_taking([-1, 3, -1, -1])
    spec = import_onnx(original)  # type: ignore[arg-type]
    dims = [(d.size, d.symbol) for d in spec.description.inputs[0].type.tensor.shape]
    assert dims == [(0, "batch"), (3, ""), (0, "x_dim2"), (0, "x_dim3")]
    assert_export_matches(original, spec, {"x": image_batch(2, 3, 5, 7)})  # type: ignore[arg-type]
    builder = NetworkBuilder.edit(spec)
    builder.make_updatable(["conv"])
    builder.set_loss("mean_squared_error", "y")
    builder.set_optimizer(SgdParams(lr=0.1, batch=2))
    builder.set_epochs(5)
    assert find_problems(builder.spec) == []
    images = image_batch(2, 3, 5, 7, seed=3)
    with Trainer.from_spec(builder.spec) as trainer:  # a 5 x 7 image through the symbolic axes
        losses = trainer.train((images, np.zeros((2, 2, 5, 7), np.float32))).epoch_losses
    assert losses[-1] < losses[0]
