"""scikit-learn classifiers as skl2onnx writes them: a ZipMap output and ai.onnx.ml label lookups.

The ZipMap's sequence of {label: probability} maps is imported as the probability tensor it
wraps (same output name), which makes the model a classifier whose labels are the exported
ones; the probabilities and labels of the import's export equal what ONNX Runtime computes from
the original, read out of its maps.
"""

from __future__ import annotations

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from mlspec.convert import to_onnx
from mlspec.convert.importers import OnnxImportError, import_onnx
from mlspec.spec import graph
from tests.importers.onnx_models import run_onnx
from tests.support.onnx_nodes import make_node

ML = helper.make_opsetid("ai.onnx.ml", 1)


def _maps(name: str, key: int) -> onnx.ValueInfoProto:
    """A graph output typed as ZipMap writes it: a sequence of {key: float} maps."""
    value = helper.make_map_type_proto(key, helper.make_tensor_type_proto(TensorProto.FLOAT, None))
    return onnx.ValueInfoProto(name=name, type=helper.make_sequence_type_proto(value))


def _skl_classifier(classes: list[int] | list[str]) -> onnx.ModelProto:
    """MLPClassifier-like: input -> MatMul/Add -> Softmax; ArgMax -> ArrayFeatureExtractor(classes)
    -> Reshape -> output_label; ZipMap(classes) -> output_probability."""
    rng = np.random.default_rng(5)
    strings = isinstance(classes[0], str)
    table = np.array(classes, dtype=object if strings else np.int64)
    initializers = [
        numpy_helper.from_array(rng.normal(size=(4, len(classes))).astype(np.float32), "coefficient"),
        numpy_helper.from_array(rng.normal(size=(len(classes),)).astype(np.float32), "intercepts"),
        numpy_helper.from_array(np.array([-1], np.int64), "shape_tensor"),
        helper.make_tensor(
            "classes",
            TensorProto.STRING if strings else TensorProto.INT64,
            [len(classes)],
            [str(c).encode() for c in classes] if strings else table.tolist(),
        ),
    ]
    zip_labels = {"classlabels_strings": classes} if strings else {"classlabels_int64s": classes}
    nodes = [
        helper.make_node("MatMul", ["input", "coefficient"], ["mul_result"]),
        helper.make_node("Add", ["mul_result", "intercepts"], ["add_result"]),
        helper.make_node("Softmax", ["add_result"], ["probabilities"], axis=1),
        helper.make_node("ArgMax", ["probabilities"], ["argmax_output"], axis=1),
        make_node("ZipMap", ["probabilities"], ["output_probability"], zip_labels, domain=ML.domain),
        helper.make_node(
            "ArrayFeatureExtractor", ["classes", "argmax_output"], ["extracted"], domain=ML.domain
        ),
        helper.make_node("Reshape", ["extracted", "shape_tensor"], ["output_label"]),
    ]
    key = TensorProto.STRING if strings else TensorProto.INT64
    maps = _maps("output_probability", key)
    graph_proto = helper.make_graph(
        nodes,
        "skl",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [None, 4])],
        [helper.make_tensor_value_info("output_label", key, [None]), maps],
        initializers,
    )
    model = helper.make_model(graph_proto, opset_imports=[helper.make_opsetid("", 17), ML])
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


@pytest.mark.parametrize("classes", [[3, 5, 7], ["cat", "dog", "eel"]])
def test_zipmap_output_imports_as_its_probability_tensor(classes: list[int] | list[str]) -> None:
    original = _skl_classifier(classes)
    spec = import_onnx(original)
    assert spec.classifier.predicted_probabilities_name == "output_probability"
    assert spec.classifier.predicted_feature_name == "output_label"
    assert graph.class_labels(spec) == classes
    x = np.random.default_rng(9).normal(size=(6, 4)).astype(np.float32)
    expected = run_onnx(original, {"input": x})
    actual = run_onnx(to_onnx(spec), {"input": x})
    maps = expected["output_probability"]
    want = np.array([[row[label] for label in classes] for row in maps], dtype=np.float32)
    np.testing.assert_allclose(actual["output_probability"], want, rtol=1e-6, atol=1e-7)
    assert actual["output_label"].tolist() == expected["output_label"].tolist()


def test_a_zipmap_of_a_graph_input_is_refused_by_name() -> None:
    maps = _maps("maps", TensorProto.INT64)
    node = helper.make_node("ZipMap", ["p"], ["maps"], domain=ML.domain, classlabels_int64s=[0, 1], name="zm")
    graph_proto = helper.make_graph(
        [node], "g", [helper.make_tensor_value_info("p", TensorProto.FLOAT, [None, 2])], [maps]
    )
    model = helper.make_model(graph_proto, opset_imports=[helper.make_opsetid("", 17), ML])
    with pytest.raises(OnnxImportError, match=r'ZipMap node "zm".*zipmap.: False'):
        import_onnx(model)


def test_a_file_of_only_ai_onnx_ml_ops_is_refused_by_name() -> None:
    node = helper.make_node(
        "LinearRegressor", ["x"], ["y"], domain=ML.domain, coefficients=[1.0, 2.0], intercepts=[0.5]
    )
    graph_proto = helper.make_graph(
        [node],
        "linear",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [None, 2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [None, 1])],
    )
    model = helper.make_model(graph_proto, opset_imports=[ML])
    with pytest.raises(OnnxImportError, match=r"ai\.onnx\.ml ops only: LinearRegressor") as caught:
        import_onnx(model)
    assert "opset" not in str(caught.value)
