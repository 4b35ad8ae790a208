"""Shape inference per layer kind, judged against independent references.

Window arithmetic (convolution, pooling) is checked against ONNX's own shape inference; reshape,
transpose, flatten, concat and broadcasting against numpy on real arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from onnx import helper

from mlspec._proto import layers_pb2, model_pb2, tensor_pb2
from mlspec.spec.shapes import STRING, TensorInfo, check_shapes, infer_shapes
from tests.support.specs import int64_feature, string_feature, tensor_feature

Dims = Sequence[int | str]


def one_layer(layer: layers_pb2.Layer, *inputs: tuple[str, Dims]) -> model_pb2.Model:
    model = model_pb2.Model(spec_version=1)
    for name, dims in inputs:
        model.description.inputs.append(tensor_feature(name, dims))
    model.network.layers.append(layer)
    return model


def layer_of(kind: str, inputs: Sequence[str] = ("x",), **fields: Any) -> layers_pb2.Layer:
    layer = layers_pb2.Layer(name="l", inputs=list(inputs), outputs=["y"])
    message = getattr(layer, kind)
    message.SetInParent()
    for key, value in fields.items():
        if isinstance(value, list):
            getattr(message, key).extend(value)
        else:
            setattr(message, key, value)
    return layer


def output_of(layer: layers_pb2.Layer, *inputs: tuple[str, Dims]) -> TensorInfo:
    report = check_shapes(one_layer(layer, *inputs))
    assert report.problems == [], [str(p) for p in report.problems]
    return report.tensors["y"]


def problem_of(layer: layers_pb2.Layer, *inputs: tuple[str, Dims]) -> str:
    report = check_shapes(one_layer(layer, *inputs))
    assert len(report.problems) == 1, [str(p) for p in report.problems]
    assert report.tensors["y"].dims is None
    problem = report.problems[0]
    assert problem.where.startswith('layers["l"]') and problem.fix
    return str(problem)


# ---- features --------------------------------------------------------------------------------


def test_scalar_features_are_batched_vectors() -> None:
    model = model_pb2.Model(spec_version=1)
    model.description.inputs.extend([string_feature("s"), int64_feature("i"), tensor_feature("t", ["n", 3])])
    shapes = infer_shapes(model)
    assert shapes["s"] == TensorInfo(STRING, ("batch",))
    assert shapes["i"] == TensorInfo(tensor_pb2.INT64, ("batch",))
    assert shapes["t"] == TensorInfo(tensor_pb2.FLOAT32, ("n", 3))


# ---- convolution and pooling against ONNX shape inference ------------------------------------


def onnx_output_dims(node: onnx.NodeProto, inputs: dict[str, Sequence[int]]) -> tuple[int, ...]:
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info(n, onnx.TensorProto.FLOAT, list(d)) for n, d in inputs.items()],
        [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, None)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True)
    dims = inferred.graph.output[0].type.tensor_type.shape.dim
    return tuple(d.dim_value for d in dims)


def padding_message(kind: str, pads: list[int]) -> layers_pb2.Padding:
    padding = layers_pb2.Padding()
    if kind == "same":
        padding.same.SetInParent()
    elif kind == "explicit":
        padding.explicit.pads.extend(pads)
    return padding


def onnx_padding(kind: str, pads: list[int]) -> dict[str, Any]:
    if kind == "same":
        return {"auto_pad": "SAME_UPPER"}
    return {"pads": pads} if kind == "explicit" else {"auto_pad": "VALID"}


windows = st.integers(1, 2).flatmap(
    lambda rank: st.fixed_dictionaries(
        {
            "size": st.lists(st.integers(5, 12), min_size=rank, max_size=rank),
            "kernel": st.lists(st.integers(1, 3), min_size=rank, max_size=rank),
            "strides": st.lists(st.integers(1, 3), min_size=rank, max_size=rank),
            "dilations": st.lists(st.integers(1, 2), min_size=rank, max_size=rank),
            "pads": st.lists(st.integers(0, 1), min_size=2 * rank, max_size=2 * rank),
            "padding": st.sampled_from(["valid", "same", "explicit"]),
            "groups": st.sampled_from([1, 2]),
        }
    )
)


@settings(max_examples=40, deadline=None)
@given(windows)
def test_convolution_matches_onnx(case: dict[str, Any]) -> None:
    size, kernel, strides, dilations = case["size"], case["kernel"], case["strides"], case["dilations"]
    pads, padding, groups = case["pads"], case["padding"], case["groups"]
    layer = layer_of(
        "convolution",
        input_channels=4,
        output_channels=6,
        kernel_shape=kernel,
        strides=strides,
        dilations=dilations,
        groups=groups,
    )
    layer.convolution.padding.CopyFrom(padding_message(padding, pads))
    node = helper.make_node(
        "Conv",
        ["x", "w"],
        ["y"],
        kernel_shape=kernel,
        strides=strides,
        dilations=dilations,
        group=groups,
        **onnx_padding(padding, pads),
    )
    expected = onnx_output_dims(node, {"x": [2, 4, *size], "w": [6, 4 // groups, *kernel]})
    got = output_of(layer, ("x", [2, 4, *size]))
    assert got.dims == expected and got.dtype == tensor_pb2.FLOAT32


@settings(max_examples=30, deadline=None)
@given(windows, st.sampled_from(["MAX", "AVERAGE"]))
def test_pooling_matches_onnx(case: dict[str, Any], pool: str) -> None:
    size, kernel, strides, pads = case["size"], case["kernel"], case["strides"], case["pads"]
    padding = case["padding"]
    if padding == "explicit":
        kernel = [max(k, 2) for k in kernel]  # ONNX requires each pad to be smaller than the kernel
    layer = layer_of("pooling", kernel_shape=kernel, strides=strides)
    layer.pooling.type = layers_pb2.PoolingLayer.MAX if pool == "MAX" else layers_pb2.PoolingLayer.AVERAGE
    layer.pooling.padding.CopyFrom(padding_message(padding, pads))
    op = "MaxPool" if pool == "MAX" else "AveragePool"
    node = helper.make_node(
        op, ["x"], ["y"], kernel_shape=kernel, strides=strides, **onnx_padding(padding, pads)
    )
    assert output_of(layer, ("x", [2, 3, *size])).dims == onnx_output_dims(node, {"x": [2, 3, *size]})


def test_global_pooling_keeps_symbols() -> None:
    layer = layer_of("pooling", type=layers_pb2.PoolingLayer.AVERAGE)
    setattr(layer.pooling, "global", True)
    assert output_of(layer, ("x", ["batch", 8, "h", "w"])).dims == ("batch", 8, 1, 1)


def test_convolution_with_symbolic_spatial_axes() -> None:
    layer = layer_of("convolution", input_channels=3, output_channels=5, kernel_shape=[3])
    assert output_of(layer, ("x", ["batch", 3, "length"])).dims == ("batch", 5, None)


@pytest.mark.parametrize(
    ("fields", "dims", "fragment"),
    [
        (
            {"input_channels": 3, "output_channels": 4, "kernel_shape": [3, 3]},
            ["batch", 1, 8, 8],
            "1 channels",
        ),
        (
            {"input_channels": 4, "output_channels": 6, "kernel_shape": [3], "groups": 3},
            ["batch", 4, 8],
            "groups",
        ),
        ({"input_channels": 3, "output_channels": 4, "kernel_shape": [9]}, ["batch", 3, 5], "kernel span 9"),
        ({"input_channels": 3, "output_channels": 4, "kernel_shape": [3, 3]}, ["batch", 3, 8], "rank 3"),
        (
            {"input_channels": 3, "output_channels": 4, "kernel_shape": [1, 1, 1]},
            ["batch", 3, 8],
            "3 entries",
        ),
        (
            {"input_channels": 3, "output_channels": 4, "kernel_shape": [3], "strides": [1, 1]},
            ["b", 3, 8],
            "strides",
        ),
    ],
)
def test_convolution_misfits(fields: dict[str, Any], dims: Dims, fragment: str) -> None:
    assert fragment in problem_of(layer_of("convolution", **fields), ("x", dims))


def test_pooling_needs_a_type() -> None:
    assert "set type to one of MAX, AVERAGE" in problem_of(
        layer_of("pooling", kernel_shape=[2]), ("x", ["b", 3, 8])
    )


# ---- reshaping kinds against numpy -----------------------------------------------------------


@pytest.mark.parametrize("target", [[6, 4], [-1], [2, -1, 3], [24], [4, 3, 2]])
def test_reshape_matches_numpy(target: list[int]) -> None:
    expected = np.zeros((5, 2, 3, 4)).reshape(5, *target).shape
    assert output_of(layer_of("reshape", target_shape=target), ("x", [5, 2, 3, 4])).dims == expected


def test_reshape_keeps_a_symbolic_batch() -> None:
    assert output_of(layer_of("reshape", target_shape=[-1, 2]), ("x", ["batch", 3, 4])).dims == (
        "batch",
        6,
        2,
    )


@pytest.mark.parametrize(
    ("target", "fragment"), [([5, -1], "multiple of 5"), ([7], "holds 7"), ([-1, -1], "one -1")]
)
def test_reshape_misfits(target: list[int], fragment: str) -> None:
    assert fragment in problem_of(layer_of("reshape", target_shape=target), ("x", ["batch", 3, 4]))


@pytest.mark.parametrize("perm", [[0, 2, 1], [2, 0, 1], [0, 1, 2]])
def test_transpose_matches_numpy(perm: list[int]) -> None:
    expected = np.zeros((2, 3, 4)).transpose(perm).shape
    assert output_of(layer_of("transpose", perm=perm), ("x", [2, 3, 4])).dims == expected


def test_transpose_needs_a_permutation() -> None:
    assert "2 entries for the 3 axes" in problem_of(layer_of("transpose", perm=[0, 1]), ("x", [2, 3, 4]))
    assert "not a permutation" in problem_of(layer_of("transpose", perm=[0, 0, 1]), ("x", [2, 3, 4]))


@pytest.mark.parametrize(("axis", "kept"), [(0, 1), (1, 1), (2, 2), (-1, 3), (4, 4)])
def test_flatten_keeps_leading_axes(axis: int, kept: int) -> None:
    dims = (2, 3, 4, 5)
    expected = (*dims[:kept], int(np.prod(dims[kept:])))
    assert output_of(layer_of("flatten", axis=axis), ("x", list(dims))).dims == expected


def test_flatten_with_symbolic_tail_is_unknown() -> None:
    assert output_of(layer_of("flatten"), ("x", ["batch", 3, "w"])).dims == ("batch", None)


@pytest.mark.parametrize(("axis", "resolved"), [(0, 1), (1, 1), (2, 2), (-1, 2)])
def test_concat_matches_numpy(axis: int, resolved: int) -> None:
    a, b = np.zeros((2, 3, 4)), np.zeros((2, 3, 4))
    expected = np.concatenate([a, b], axis=resolved).shape
    got = output_of(layer_of("concat", ["a", "b"], axis=axis), ("a", [2, 3, 4]), ("b", [2, 3, 4]))
    assert got.dims == expected


def test_concat_misfits() -> None:
    assert "axis 2" in problem_of(
        layer_of("concat", ["a", "b"]), ("a", ["batch", 3, 4]), ("b", ["batch", 2, 5])
    )
    assert "different ranks" in problem_of(
        layer_of("concat", ["a", "b"]), ("a", ["batch", 3]), ("b", ["batch", 2, 5])
    )


@pytest.mark.parametrize(
    ("first", "second"), [([2, 3, 4], [4]), ([2, 1, 4], [3, 1]), ([2, 3], [2, 3]), ([1], [2, 5])]
)
@pytest.mark.parametrize("kind", ["add", "multiply"])
def test_broadcasting_matches_numpy(kind: str, first: list[int], second: list[int]) -> None:
    expected = np.broadcast_shapes(tuple(first), tuple(second))
    got = output_of(layer_of(kind, ["a", "b"]), ("a", first), ("b", second))
    assert got.dims == expected


def test_broadcasting_with_symbols_and_misfit() -> None:
    assert output_of(layer_of("add", ["a", "b"]), ("a", ["batch", 4]), ("b", [4])).dims == ("batch", 4)
    assert "does not broadcast" in problem_of(layer_of("add", ["a", "b"]), ("a", ["batch", 4]), ("b", [3]))


# ---- kinds that keep or extend the shape -----------------------------------------------------


def test_inner_product_acts_on_the_last_axis() -> None:
    layer = layer_of("inner_product", input_channels=4, output_channels=7)
    assert output_of(layer, ("x", ["batch", 5, 4])).dims == ("batch", 5, 7)
    assert "input_channels is 4" in problem_of(layer, ("x", ["batch", 6]))


def test_batch_norm_checks_channels() -> None:
    layer = layer_of("batch_norm", channels=3)
    assert output_of(layer, ("x", ["batch", 3, 5, 5])).dims == ("batch", 3, 5, 5)
    assert "channels is 3" in problem_of(layer, ("x", ["batch", 4, 5, 5]))


def test_layer_norm_checks_trailing_axes() -> None:
    layer = layer_of("layer_norm", normalized_shape=[4, 5])
    assert output_of(layer, ("x", ["batch", 3, 4, 5])).dims == ("batch", 3, 4, 5)
    assert "ends in [3, 5]" in problem_of(layer, ("x", ["batch", 3, 5]))


def test_embedding_turns_ids_into_vectors() -> None:
    layer = layer_of("embedding", vocab_size=10, embedding_dim=6)
    model = one_layer(layer)
    model.description.inputs.append(int64_feature("x"))
    report = check_shapes(model)
    assert report.problems == []
    assert report.tensors["y"] == TensorInfo(tensor_pb2.FLOAT32, ("batch", 6))
    assert "int64" in problem_of(layer, ("x", ["batch", 3]))


@pytest.mark.parametrize(("axis", "ok"), [(0, True), (1, True), (-1, True), (2, True), (3, False)])
def test_softmax_axis(axis: int, ok: bool) -> None:
    layer = layer_of("softmax", axis=axis)
    if ok:
        assert output_of(layer, ("x", ["batch", 3, 4])).dims == ("batch", 3, 4)
    else:
        assert "axis" in problem_of(layer, ("x", ["batch", 3, 4]))


def test_activation_and_dropout_keep_shape() -> None:
    relu = layer_of("activation", type=layers_pb2.ActivationLayer.GELU)
    assert output_of(relu, ("x", ["batch", 3])).dims == ("batch", 3)
    assert output_of(layer_of("dropout", rate=0.5), ("x", ["batch", 3])).dims == ("batch", 3)
    assert "activation type is unset" in problem_of(layer_of("activation"), ("x", ["batch", 3]))


def test_float_layers_refuse_integer_tensors() -> None:
    model = one_layer(layer_of("inner_product", input_channels=1, output_channels=2))
    model.description.inputs.append(tensor_feature("x", ["batch", 1], tensor_pb2.INT64))
    [problem] = check_shapes(model).problems
    assert "int64" in problem.message and "float" in problem.message


def test_onnx_node_uses_declared_types_or_unknown() -> None:
    layer = layer_of("onnx_node", op_type="Erf")
    assert output_of(layer, ("x", ["batch", 3])) == TensorInfo(0, None)
    declared = layer.onnx_node.output_types.add(dtype=tensor_pb2.FLOAT32)
    declared.shape.add(symbol="batch")
    declared.shape.add(size=3)
    assert output_of(layer, ("x", ["batch", 3])) == TensorInfo(tensor_pb2.FLOAT32, ("batch", 3))


def test_unknown_shapes_flow_on_without_problems() -> None:
    model = one_layer(layer_of("onnx_node", op_type="Erf"), ("x", ["batch", 3]))
    after = layer_of("inner_product", ["y"], input_channels=3, output_channels=2)
    after.name, after.outputs[0] = "fc", "z"
    model.network.layers.append(after)
    report = check_shapes(model)
    assert report.problems == [] and report.tensors["z"].dims is None


def test_one_bad_layer_does_not_hide_the_next() -> None:
    model = one_layer(layer_of("inner_product", input_channels=5, output_channels=2), ("x", ["batch", 3]))
    bad = layer_of("reshape", ["x"], target_shape=[7])
    bad.name, bad.outputs[0] = "r", "z"
    model.network.layers.append(bad)
    assert [p.where for p in check_shapes(model).problems] == [
        'layers["l"].input_channels',
        'layers["r"].target_shape',
    ]


@pytest.mark.parametrize(
    ("layer", "field"),
    [
        (layer_of("activation", ["y"]), ".type"),
        (
            layer_of("convolution", ["y"], input_channels=4, output_channels=6, kernel_shape=[3], groups=4),
            ".groups",
        ),
        (layer_of("pooling", ["y"], type=layers_pb2.PoolingLayer.MAX, kernel_shape=[0, 2]), ".kernel_shape"),
        (layer_of("reshape", ["y"], target_shape=[-1, -1]), ".target_shape"),
        (layer_of("embedding", ["y"], vocab_size=0, embedding_dim=3), ".vocab_size"),
    ],
)
def test_attributes_are_checked_past_unknown_shapes(layer: layers_pb2.Layer, field: str) -> None:
    """After an imported node without declared types, a layer's own attributes are still checked."""
    model = one_layer(layer_of("onnx_node", op_type="Erf"), ("x", ["batch", 3]))
    layer.name, layer.outputs[0] = "after", "z"
    model.network.layers.append(layer)
    [problem] = check_shapes(model).problems
    assert problem.where == f'layers["after"]{field}' and problem.fix


def test_attributes_are_checked_when_inputs_are_undefined() -> None:
    model = one_layer(layer_of("activation", ["nowhere"]))
    [problem] = check_shapes(model).problems
    assert problem.where == 'layers["l"].type'
