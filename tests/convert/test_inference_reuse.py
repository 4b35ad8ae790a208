"""The inference model rebuilt inside a spent training graph equals one built from scratch.

to_training_artifacts builds the inference model inside its training graph (to_onnx's
`reusing`) so that the weights are not copied out of the spec again; these tests hold that
shortcut to the plain `to_onnx(spec)` as the reference, initializer order aside.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
import pytest

from mlspec._proto import model_pb2
from mlspec.backends import to_training_artifacts
from mlspec.backends.ort_training.forms import ORT_FORMS
from mlspec.convert import build_graph, to_onnx
from mlspec.spec.weights import set_tensor, to_numpy
from tests.support.specs import SpecMaker, mlp


def _conv_bn_dropout() -> model_pb2.Model:
    """Batch norm and dropout change form between training and inference; one dense layer is frozen.

    Reshape's target shape is a constant initializer both graphs hold, so it is rebuilt in place.
    """
    maker = SpecMaker("conv_bn_dropout", seed=4)
    maker.input("x", [2, 5])
    maker.conv("conv", "x", "c", (2, 3), kernel=[3])
    maker.batch_norm("bn", "c", "n", 3)
    maker.flatten("flat", "n", "f")
    maker.reshape("reshape", "f", "r", [9])
    maker.dropout("drop", "r", "d", 0.25)
    maker.dense("frozen", "d", "h", (9, 4), updatable=False)
    maker.dense("fc", "h", "y", (4, 2))
    maker.output("y")
    maker.target("t", [2])
    maker.loss("mse", "mean_squared_error", "y", "t")
    maker.sgd(0.1)
    return maker.spec()


def _mlp_with_float16_weights() -> model_pb2.Model:
    model = mlp(optimizer="adamw")
    weights = next(layer for layer in model.network.layers if layer.name == "fc1").inner_product.weights
    set_tensor(weights, to_numpy(weights), dtype=np.float16)
    return model


def _canonical(model: onnx.ModelProto) -> bytes:
    """The model's bytes with its initializers sorted by name, the one thing reuse may reorder."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    ordered = sorted(copy.graph.initializer, key=lambda tensor: tensor.name)
    kept = [onnx.TensorProto.FromString(tensor.SerializeToString()) for tensor in ordered]
    del copy.graph.initializer[:]
    copy.graph.initializer.extend(kept)
    return copy.SerializeToString(deterministic=True)


SPECS = {"mlp": mlp(), "conv_bn_dropout": _conv_bn_dropout(), "float16": _mlp_with_float16_weights()}


@pytest.mark.parametrize("name", SPECS)
def test_rebuilding_inside_the_training_graph_matches_a_fresh_inference_model(name: str) -> None:
    spec = SPECS[name]
    training = build_graph(spec, training=True, forms=ORT_FORMS).onnx_model
    # What the artifacts step adds before ORT runs: optimizer state the inference model must lose.
    state = training.graph.initializer.add(name="mlspec.state", data_type=onnx.TensorProto.FLOAT, dims=[1])
    state.float_data.append(0.0)
    training_only = {tensor.name for tensor in training.graph.initializer} - {
        tensor.name for tensor in to_onnx(spec).graph.initializer
    }
    assert "mlspec.state" in training_only
    rebuilt = to_onnx(spec, reusing=training)
    assert rebuilt is training
    assert _canonical(rebuilt) == _canonical(to_onnx(spec))
    onnx.checker.check_model(rebuilt, full_check=True)


@pytest.mark.ort_training
def test_the_written_inference_model_is_the_fresh_one(tmp_path: Path) -> None:
    spec = SPECS["conv_bn_dropout"]
    to_training_artifacts(spec, tmp_path / "out")
    written = onnx.load(os.fspath(tmp_path / "out" / "inference_model.onnx"))
    assert _canonical(written) == _canonical(to_onnx(spec))
