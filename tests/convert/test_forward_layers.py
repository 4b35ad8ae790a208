"""Forward numerics of the weighted and windowed kinds: ORT on the emitted model vs the reference.

Shapes and attributes are drawn from seeded generators, so every run checks the same cases and
a failure names its seed.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from mlspec._proto import layers_pb2, tensor_pb2
from mlspec.convert import to_onnx
from tests.convert.forward_check import assert_forward_matches
from tests.support.specs import layer, network, padding

F32 = np.float32
MAX, AVERAGE = layers_pb2.PoolingLayer.MAX, layers_pb2.PoolingLayer.AVERAGE


def normal(rng: np.random.Generator, *shape: int) -> np.ndarray[Any, Any]:
    return rng.normal(size=shape).astype(F32)


@pytest.mark.parametrize("seed", range(6))
def test_inner_product(seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_in, n_out = (int(v) for v in rng.integers(1, 9, size=2))
    middle = [int(rng.integers(1, 4))] * (seed % 2)  # odd seeds: rank 3, emitted as MatMul
    has_bias = seed < 4
    fields: dict[str, Any] = {"input_channels": n_in, "output_channels": n_out, "has_bias": has_bias}
    fields["weights"] = normal(rng, n_out, n_in)
    if has_bias:
        fields["bias"] = normal(rng, n_out)
    model = network({"x": ["batch", *middle, n_in]}, [layer("inner_product", "fc", ["x"], **fields)])
    assert_forward_matches(model, {"x": normal(rng, 3, *middle, n_in)})
    ops = {node.op_type for node in to_onnx(model).graph.node}
    assert ("Gemm" in ops) == (not middle)


# (rank, padding, stride, dilation, groups ("dw" = depthwise), symbolic spatial dims)
CONV_CASES = [
    (1, "valid", 1, 1, 1, False),
    (1, "same", 2, 1, 1, False),
    (1, "same_lower", 3, 1, "dw", False),
    (1, "explicit", 1, 2, 2, False),
    (2, "valid", 2, 1, 1, False),
    (2, "same", 1, 2, 1, False),
    (2, "same_lower", 2, 1, 2, False),
    (2, "explicit", 2, 2, "dw", False),
    (2, "same", 2, 1, 3, True),
    (2, "same_lower", 3, 1, 1, True),
]


def _padding(kind: str, rank: int, rng: np.random.Generator) -> layers_pb2.Padding:
    if kind == "explicit":
        return padding("explicit", pads=[int(p) for p in rng.integers(0, 3, size=2 * rank)])
    return padding("same" if kind.startswith("same") else "valid", lower=kind == "same_lower")


@pytest.mark.parametrize("case", CONV_CASES)
def test_convolution(case: tuple[int, str, int, int, int | str, bool]) -> None:
    rank, pad, stride, dilation, groups, symbolic = case
    rng = np.random.default_rng(len(pad) * 10 + rank + stride)
    channels_per_group = 1 if groups == "dw" else int(rng.integers(1, 4))
    group_count = int(rng.integers(2, 4)) if groups == "dw" else int(groups)
    channels = channels_per_group * group_count
    out_channels = group_count * int(rng.integers(1, 3))
    kernel = [int(k) for k in rng.integers(1, 4, size=rank)]
    spatial = [int(n) for n in rng.integers(6, 10, size=rank)]
    fields: dict[str, Any] = {
        "input_channels": channels,
        "output_channels": out_channels,
        "kernel_shape": kernel,
        "strides": [stride] * rank,
        "dilations": [dilation] * rank,
        "groups": group_count,
        "padding": _padding(pad, rank, rng),
        "has_bias": True,
        "weights": normal(rng, out_channels, channels_per_group, *kernel),
        "bias": normal(rng, out_channels),
    }
    dims = [f"s{i}" for i in range(rank)] if symbolic else spatial
    model = network({"x": ["batch", channels, *dims]}, [layer("convolution", "conv", ["x"], **fields)])
    assert_forward_matches(model, {"x": normal(rng, 2, channels, *spatial)})


# (rank, type, padding, stride, count_include_pad)
POOL_CASES = [
    (1, MAX, "valid", 1, False),
    (1, AVERAGE, "same", 2, False),
    (1, AVERAGE, "explicit", 1, True),
    (2, MAX, "same", 2, False),
    (2, MAX, "explicit", 1, False),
    (2, MAX, "same_lower", 3, False),
    (2, AVERAGE, "valid", 2, False),
    (2, AVERAGE, "explicit", 2, False),
    (2, AVERAGE, "explicit", 1, True),
    (2, AVERAGE, "same_lower", 1, False),
]


@pytest.mark.parametrize(("rank", "kind", "pad", "stride", "include_pad"), POOL_CASES)
def test_pooling(rank: int, kind: int, pad: str, stride: int, include_pad: bool) -> None:
    rng = np.random.default_rng(rank * 7 + stride + len(pad))
    kernel = [int(k) for k in rng.integers(2, 4, size=rank)]
    chosen = _padding(pad, rank, rng)
    if pad == "explicit":  # ONNX requires each pad to be smaller than the kernel
        pads = [min(p, kernel[i % rank] - 1) for i, p in enumerate(chosen.explicit.pads)]
        chosen = padding("explicit", pads=pads)
    fields: dict[str, Any] = {
        "type": kind,
        "kernel_shape": kernel,
        "strides": [stride] * rank,
        "padding": chosen,
        "count_include_pad": include_pad,
    }
    spatial = [int(n) for n in rng.integers(5, 9, size=rank)]
    model = network({"x": ["batch", 3, *spatial]}, [layer("pooling", "pool", ["x"], **fields)])
    assert_forward_matches(model, {"x": normal(rng, 2, 3, *spatial)})


@pytest.mark.parametrize("kind", [MAX, AVERAGE])
@pytest.mark.parametrize("rank", [1, 2])
def test_global_pooling(kind: int, rank: int) -> None:
    rng = np.random.default_rng(kind * 3 + rank)
    spatial = [int(n) for n in rng.integers(2, 7, size=rank)]
    fields: dict[str, Any] = {"type": kind, "global": True}  # "global" is a Python keyword
    model = network({"x": ["batch", 4, *spatial]}, [layer("pooling", "pool", ["x"], **fields)])
    assert_forward_matches(model, {"x": normal(rng, 3, 4, *spatial)})


@pytest.mark.parametrize("rank", [2, 3, 4])
def test_batch_norm(rank: int) -> None:
    rng = np.random.default_rng(rank)
    channels = int(rng.integers(1, 6))
    fields: dict[str, Any] = {
        "channels": channels,
        "epsilon": float(rng.uniform(1e-5, 1e-2)),
        "momentum": 0.9,
        "gamma": normal(rng, channels),
        "beta": normal(rng, channels),
        "running_mean": normal(rng, channels),
        "running_variance": rng.uniform(0.2, 3.0, size=channels).astype(F32),
    }
    spatial = [int(n) for n in rng.integers(2, 5, size=rank - 2)]
    model = network({"x": ["batch", channels, *spatial]}, [layer("batch_norm", "bn", ["x"], **fields)])
    assert_forward_matches(model, {"x": normal(rng, 4, channels, *spatial)})


@pytest.mark.parametrize(("normalized_axes", "with_beta"), [(1, True), (2, True), (1, False), (3, True)])
def test_layer_norm(normalized_axes: int, with_beta: bool) -> None:
    rng = np.random.default_rng(normalized_axes * 2 + with_beta)
    dims = [int(n) for n in rng.integers(2, 6, size=3)]
    normalized = dims[len(dims) - normalized_axes :]
    fields: dict[str, Any] = {"normalized_shape": normalized, "epsilon": 1e-5}
    fields["gamma"] = normal(rng, *normalized)
    if with_beta:
        fields["beta"] = normal(rng, *normalized)
    model = network({"x": ["batch", *dims]}, [layer("layer_norm", "ln", ["x"], **fields)])
    assert_forward_matches(model, {"x": normal(rng, 2, *dims)})


EMBEDDING_CASES = [([], tensor_pb2.INT64), ([3], tensor_pb2.INT64), ([2, 2], tensor_pb2.INT32)]


@pytest.mark.parametrize(("index_dims", "dtype"), EMBEDDING_CASES)
def test_embedding(index_dims: list[int], dtype: tensor_pb2.DataType) -> None:
    rng = np.random.default_rng(len(index_dims))
    vocab, width = 7, 4
    weights = normal(rng, vocab, width)
    table = layer("embedding", "emb", ["ids"], vocab_size=vocab, embedding_dim=width, weights=weights)
    model = network({"ids": ["batch", *index_dims]}, [table], dtypes={"ids": dtype})
    index_type = np.int64 if dtype == tensor_pb2.INT64 else np.int32
    ids = rng.integers(0, vocab, size=(5, *index_dims)).astype(index_type)
    assert_forward_matches(model, {"ids": ids})
