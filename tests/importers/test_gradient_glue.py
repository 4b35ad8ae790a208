"""Generic nodes of differentiable ops (what exporters write between typed layers) pass gradients.

torch's dynamo exporter writes global average pooling as ReduceMean over the trailing axes (a
typed global average pool since) and timm's layer scale as a per-channel Mul, which imports as a
frozen onnx_node layer. The conv before them must still train: its bias update after one SGD
step is checked against central finite differences of the loss computed by the reference
evaluator.
"""

from __future__ import annotations

import numpy as np
import pytest
from onnx import TensorProto

from mlspec._proto.layers_pb2 import ActivationLayer
from mlspec.builder import NetworkBuilder, SgdParams
from mlspec.convert.importers import import_onnx
from mlspec.reference import evaluate
from mlspec.runtime import Trainer
from mlspec.spec.errors import MlspecError
from mlspec.spec.weights import make_tensor, to_numpy
from tests.importers.onnx_models import GraphBuilder, image_batch

LR = 0.05
SPELLED_HARD_SWISH = "x * Clip(x + 3, 0, 6) / 6"


def _glued(activation: str) -> GraphBuilder:
    b = GraphBuilder(opset=18)
    conv = b.node("Conv", ["image", b.random("conv.w", 4, 3, 3, 3), b.random("conv.b", 4)], name="/conv/Conv")
    scaled = b.node("Mul", [conv, b.random("gamma", 1, 4, 1, 1)], name="/scale/Mul")
    if activation == SPELLED_HARD_SWISH:  # paddle2onnx: x * Clip(x + 3, 0, 6) / 6
        shifted = b.node("Add", [scaled, b.weight("three", np.array(3.0, np.float32))])
        bounds = [b.weight("zero", np.array(0.0, np.float32)), b.weight("six", np.array(6.0, np.float32))]
        gate = b.node("Clip", [shifted, *bounds])
        act = b.node("Div", [b.node("Mul", [scaled, gate]), "six"], name="/act")
    else:
        act = b.node(activation, [scaled], name="/act")
    pooled = b.node("ReduceMean", [act, b.ints("axes", [-1, -2])], keepdims=0, name="/mean")
    b.node("Gemm", [pooled, b.random("fc.w", 2, 4), b.random("fc.b", 2)], transB=1, name="/fc/Gemm")
    return b


def _trainable(activation: str) -> NetworkBuilder:
    b = _glued(activation)
    spec = import_onnx(b.build([("image", TensorProto.FLOAT, ["batch", 3, 6, 6])], [b.nodes[-1].output[0]]))
    kinds = {layer.name: layer.WhichOneof("kind") for layer in spec.network.layers}
    assert kinds["scale_Mul"] == "onnx_node"
    assert kinds["mean"] == "pooling"  # ReduceMean over H, W is a typed global average pool
    builder = NetworkBuilder.edit(spec)
    builder.make_updatable(["conv_Conv", "fc_Gemm"])
    builder.set_loss("mean_squared_error", "output_0")
    builder.set_optimizer(SgdParams(lr=LR, batch=4))
    builder.set_epochs(1)
    return builder


def _loss(builder: NetworkBuilder, bias: np.ndarray, images: np.ndarray, target: np.ndarray) -> float:
    spec = builder.spec
    conv = next(layer for layer in spec.network.layers if layer.name == "conv_Conv")
    conv.convolution.bias.CopyFrom(make_tensor(bias.astype(np.float32)))
    out = evaluate(spec, {"image": images}, outputs=["output_0"])["output_0"]
    return float(np.mean((out - target) ** 2))


@pytest.mark.parametrize("activation", ["Relu", SPELLED_HARD_SWISH])
def test_conv_before_reduce_mean_and_mul_glue_trains_as_finite_differences_predict(activation: str) -> None:
    """The spelled-out hard swish imports as one HARD_SWISH activation: as a Mul of two
    activations, onnxruntime-training's gradient failed to broadcast in PaddleOCR's classifier."""
    builder = _trainable(activation)
    if activation == SPELLED_HARD_SWISH:
        acts = [
            layer.activation.type for layer in builder.spec.network.layers if layer.HasField("activation")
        ]
        assert acts == [ActivationLayer.HARD_SWISH]
        assert not any(layer.HasField("multiply") for layer in builder.spec.network.layers)
    images = image_batch(4, 3, 6, 6, seed=5)
    target = np.random.default_rng(6).normal(size=(4, 2)).astype(np.float32)
    with Trainer.from_spec(builder.spec) as trainer:
        trainer.train((images, target))
        trained = trainer.parameters()["conv_Conv.bias"]
    np.testing.assert_allclose(trained, _finite_difference_step(builder, images, target), atol=2e-4)


def _finite_difference_step(builder: NetworkBuilder, images: np.ndarray, target: np.ndarray) -> np.ndarray:
    """conv_Conv's bias after one SGD step as central differences of the reference's loss predict."""
    conv = next(layer for layer in builder.spec.network.layers if layer.name == "conv_Conv")
    bias = to_numpy(conv.convolution.bias, "conv bias").astype(np.float64)
    probe, step, eye = NetworkBuilder.edit(builder.spec), 1e-3, np.eye(len(bias))
    gradient = np.array(
        [
            (
                _loss(probe, bias + step * eye[i], images, target)
                - _loss(probe, bias - step * eye[i], images, target)
            )
            / (2 * step)
            for i in range(len(bias))
        ]
    )
    assert np.abs(gradient).max() > 1e-3  # the glue really carries a gradient
    return bias - LR * gradient


def test_a_generic_node_without_a_gradient_is_named_when_it_blocks() -> None:
    with pytest.raises(MlspecError, match=r'layers\["act"\] \(onnx_node Selu\)'):
        _trainable("Selu")


def _upsampled() -> NetworkBuilder:
    """paddle2onnx's detector head: ConvTranspose without a bias, then the bias as its own Add."""
    b = GraphBuilder(opset=11)
    conv = b.node("Conv", ["image", b.random("conv.w", 4, 3, 3, 3), b.random("conv.b", 4)], name="/conv/Conv")
    up = b.node(
        "ConvTranspose", [conv, b.random("up.w", 4, 1, 2, 2)], strides=[2, 2], name="/up/ConvTranspose"
    )
    biased = b.node("Add", [up, b.random("up.b", 1, 1, 1, 1)], name="/up/Add")
    spec = import_onnx(b.build([("image", TensorProto.FLOAT, [-1, 3, -1, -1])], [biased]))
    builder = NetworkBuilder.edit(spec)
    builder.make_updatable(["conv_Conv"])
    builder.set_loss("mean_squared_error", "output_0")
    builder.set_optimizer(SgdParams(lr=LR, batch=4))
    builder.set_epochs(1)
    return builder


def test_conv_before_a_conv_transpose_trains_on_the_portable_backend_as_finite_differences_predict() -> None:
    """onnxruntime-training has no CPU gradient for ConvTranspose: the default backend refuses,
    naming the layer and the flag that trains it; --backend auto takes the portable backend."""
    builder = _upsampled()
    images = image_batch(4, 3, 6, 6, seed=7)
    target = np.random.default_rng(8).normal(size=(4, 1, 8, 8)).astype(np.float32)
    with pytest.raises(
        MlspecError, match=r'layers\["up_ConvTranspose"\] \(onnx_node ConvTranspose\).*--backend auto'
    ):
        Trainer.from_spec(builder.spec, backend="ort-training")
    with Trainer.from_spec(builder.spec, backend="auto") as trainer:
        assert trainer.manifest.backend == "portable"
        trainer.train((images, target))
        trained = trainer.parameters()["conv_Conv.bias"]
    np.testing.assert_allclose(trained, _finite_difference_step(builder, images, target), atol=2e-4)
