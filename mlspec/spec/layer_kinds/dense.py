"""Dense kinds: inner product (a fully connected layer) and embedding (a table lookup)."""

from __future__ import annotations

from mlspec._proto import layers_pb2, tensor_pb2
from mlspec.spec.errors import ShapeError
from mlspec.spec.layer_kinds.base import Expected, KindInfo
from mlspec.spec.layer_kinds.checks import positive
from mlspec.spec.layer_kinds.rules import describe, dims_of, float_input, min_rank, with_bias
from mlspec.spec.tensor_info import UNKNOWN_DTYPE, TensorInfo, dtype_label

_WEIGHTS_BIAS = ("weights", "bias")


def _inner_product_check(layer: layers_pb2.Layer) -> None:
    positive(layer.inner_product.input_channels, ".input_channels", "the input size")
    positive(layer.inner_product.output_channels, ".output_channels", "the output size")


def _inner_product_shape(layer: layers_pb2.Layer, inputs: list[TensorInfo]) -> TensorInfo:
    spec = layer.inner_product
    float_input(layer, inputs)
    dims = min_rank(layer, inputs, 2, "[batch, ..., input_channels]")
    if isinstance(dims[-1], int) and dims[-1] != spec.input_channels:
        raise ShapeError(
            f"{describe(layer, inputs, 0)} has {dims[-1]} features on its last axis, "
            f"but input_channels is {spec.input_channels}",
            f"set input_channels to {dims[-1]} (and resize the weights) or flatten/reshape the input",
            ".input_channels",
        )
    return TensorInfo(inputs[0].dtype, (*dims[:-1], spec.output_channels))


def _inner_product_weights(layer: layers_pb2.Layer) -> tuple[Expected, tuple[str, ...]]:
    spec = layer.inner_product
    out, inp = spec.output_channels, spec.input_channels
    shapes: Expected = {"weights": ((out, inp), "[output_channels, input_channels]")}
    return with_bias(shapes, spec.has_bias, out)


def _embedding_check(layer: layers_pb2.Layer) -> None:
    positive(layer.embedding.vocab_size, ".vocab_size", "the vocabulary size")
    positive(layer.embedding.embedding_dim, ".embedding_dim", "the embedding size")


def _embedding_shape(layer: layers_pb2.Layer, inputs: list[TensorInfo]) -> TensorInfo:
    spec = layer.embedding
    tensor = inputs[0]
    if tensor.dtype != UNKNOWN_DTYPE and not tensor.is_integer:
        raise ShapeError(
            f"{describe(layer, inputs, 0)} has dtype {dtype_label(tensor.dtype)}; "
            "embedding looks up int64 (or int32) ids",
            "feed integer ids (an int64 feature or int64 tensor)",
        )
    dtype = spec.weights.dtype if spec.HasField("weights") and spec.weights.dtype else tensor_pb2.FLOAT32
    return TensorInfo(dtype, (*dims_of(tensor), spec.embedding_dim))


def _embedding_weights(layer: layers_pb2.Layer) -> tuple[Expected, tuple[str, ...]]:
    emb = layer.embedding
    return {"weights": ((emb.vocab_size, emb.embedding_dim), "[vocab_size, embedding_dim]")}, ()


INNER_PRODUCT = KindInfo(
    name="inner_product",
    check=_inner_product_check,
    shape=_inner_product_shape,
    weights=_inner_product_weights,
    tensor_fields=_WEIGHTS_BIAS,
    trainable_fields=_WEIGHTS_BIAS,
)

EMBEDDING = KindInfo(
    name="embedding",
    check=_embedding_check,
    shape=_embedding_shape,
    weights=_embedding_weights,
    tensor_fields=("weights",),
    trainable_fields=("weights",),
    # Indices are integers, so nothing flows back into the embedding's input.
    passes_gradient=False,
)
