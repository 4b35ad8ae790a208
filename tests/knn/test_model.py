"""The k-NN model kind: building, updating, validating, inspecting, and the extractor pipeline."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from mlspec._proto import model_pb2
from mlspec.backends.inference import run_inference
from mlspec.builder import NetworkBuilder, inspect_model
from mlspec.builder.knn import KnnClassifier
from mlspec.convert import to_onnx
from mlspec.reference import evaluate
from mlspec.reference import knn as reference
from mlspec.runtime import DataError, add_examples, remove_examples
from mlspec.spec import knn as spec_knn
from mlspec.spec.errors import SpecEditError
from mlspec.spec.io import load, save
from mlspec.spec.validate import find_problems
from mlspec.spec.weights import set_tensor
from tests.cli.conftest import assert_one_line_failure, invoke


def _extractor() -> model_pb2.Model:
    builder = NetworkBuilder(mode="regressor", seed=1)
    builder.add_input("x", [6])
    builder.add_inner_product("embed", "x", 4)
    builder.add_activation("features", "embed", "tanh")
    return builder.spec


def _where(model: model_pb2.Model) -> list[str]:
    return [problem.where for problem in find_problems(model)]


def test_new_model_is_valid_and_predicts_its_default_label_until_examples_arrive() -> None:
    knn = KnnClassifier.new(dimensions=3, default_label="nobody", k=2)
    assert find_problems(knn.spec) == []
    out = run_inference(to_onnx(knn.spec).SerializeToString(), {"features": np.zeros((4, 3), np.float32)})
    assert list(out["label"]) == ["nobody"] * 4
    assert out["probabilities"].shape == (4, 0)


def test_adding_extends_labels_and_grows_the_buffer_geometrically() -> None:
    knn = KnnClassifier.new(dimensions=2, label_kind="int64", default_label=0)
    buffers = set()
    for i in range(2000):
        knn.add_examples(np.full((1, 2), i, np.float32), [i % 7 * 10])
        buffers.add(id(knn._examples))
    assert knn.count == 2000
    assert knn.labels == [0, 10, 20, 30, 40, 50, 60]
    assert len(buffers) <= 9  # 16 -> 32 -> ... -> 2048: a copy per doubling, not per add
    spec = knn.spec
    np.testing.assert_array_equal(spec_knn.examples(spec)[:, 0], np.arange(2000))
    np.testing.assert_array_equal(spec_knn.example_labels(spec), np.arange(2000) % 7)


def test_remove_keeps_the_label_set_and_the_order_of_the_rest() -> None:
    knn = KnnClassifier.new(dimensions=1, default_label="?")
    knn.add_examples(np.arange(5, dtype=np.float32)[:, None], ["a", "b", "a", "c", "b"])
    assert knn.remove_examples(["b"]) == 2
    spec = knn.spec
    np.testing.assert_array_equal(spec_knn.examples(spec)[:, 0], [0, 2, 3])
    assert spec_knn.label_values(spec) == ["a", "b", "c"]
    with pytest.raises(SpecEditError, match="label 'z' is not in the model; its labels are 'a', 'b', 'c'"):
        knn.remove_examples(["z"])


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda k: k.add_examples(np.zeros((2, 4)), ["a", "b"]),
            "shape \\[2, 4\\]; this model stores vectors of 3",
        ),
        (lambda k: k.add_examples(np.zeros((2, 3)), ["a"]), "2 examples but 1 labels"),
        (lambda k: k.add_examples(np.full((1, 3), np.nan), ["a"]), "example 0 holds a non-finite value"),
        (lambda k: k.add_examples(np.zeros((1, 3)), [5]), "label 5 is not a string"),
    ],
)
def test_bad_examples_are_refused_and_change_nothing(
    call: Callable[[KnnClassifier], object], message: str
) -> None:
    knn = KnnClassifier.new(dimensions=3, default_label="?")
    with pytest.raises(SpecEditError, match=message):
        call(knn)
    assert knn.count == 0


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"distance": "manhattan"}, "distance: 'manhattan' is not allowed; use one of euclidean, cosine"),
        ({"weighting": "gaussian"}, "use one of uniform, inverse_distance"),
        ({"k": 12, "k_allowed": (1, 10)}, "k=12 is outside the allowed range \\[1, 10\\]"),
        ({"k": 0, "k_allowed": [0, 1]}, "k must be >= 1"),
        ({"label_kind": "float"}, "label_kind='float' is not allowed"),
    ],
)
def test_builder_refuses_bad_settings_by_name(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(SpecEditError, match=message):
        KnnClassifier.new(dimensions=3, **kwargs)  # type: ignore[arg-type]  # values outside the types, on purpose


def test_validate_names_each_broken_part() -> None:
    knn = KnnClassifier.new(dimensions=2, default_label="?", k=3)
    knn.add_examples(np.eye(2), ["a", "b"])
    spec = knn.spec
    assert _where(spec) == ["knn_classifier.number_of_neighbors"]  # k=3 > 2 stored examples
    set_tensor(spec.knn_classifier.example_labels, np.array([0, 7], np.int32))
    spec.knn_classifier.dimensions = 3
    spec.knn_classifier.ClearField("default_label")
    problems = {str(p) for p in find_problems(spec)}
    assert any("example_labels[1]: is 7, outside the 2 labels" in p for p in problems)
    assert any("knn_classifier.examples: holds vectors of 2 values; dimensions is 3" in p for p in problems)
    assert any("default_label: is not set" in p for p in problems)
    assert any("inputs['features']: is float32 [batch, 2], not [batch, 3]" in p for p in problems)


def test_inspect_returns_settings_and_counts_as_data() -> None:
    knn = KnnClassifier.new(
        dimensions=2, default_label="?", k=1, k_allowed=[1, 3, 5], weighting="inverse_distance"
    )
    knn.add_examples(np.eye(2).repeat(2, axis=0), ["a", "a", "b", "b"])
    summary = inspect_model(knn.spec)["knn"]
    assert summary["k"] == {"default": 1, "set": [1, 3, 5]}
    assert summary["examples_per_label"] == {"a": 2, "b": 2}
    assert (summary["weighting"], summary["distance"], summary["default_label"]) == (
        "inverse_distance",
        "euclidean",
        "?",
    )


def test_examples_go_through_the_feature_extractor_and_export_runs_the_pipeline() -> None:
    extractor = _extractor()
    knn = KnnClassifier.new(dimensions=4, feature_extractor=extractor, default_label="?", k=3)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(40, 6)).astype(np.float32)
    labels = np.where(x[:, 0] > 0, "pos", "neg")
    model = add_examples(knn.spec, {"x": x, "label": labels})
    expected = evaluate(extractor, {"x": x}, outputs=["features"])["features"]
    np.testing.assert_allclose(spec_knn.examples(model), expected, atol=1e-6)
    assert find_problems(model) == []
    queries = rng.normal(size=(25, 6)).astype(np.float32)
    out = run_inference(to_onnx(model).SerializeToString(), {"x": queries})
    want, probabilities = reference.predict(model, reference.features(model, {"x": queries}))
    assert (out["label"] == want).all()
    np.testing.assert_allclose(out["probabilities"], probabilities, atol=1e-6)
    smaller, removed = remove_examples(model, ["pos"])
    assert removed == int((labels == "pos").sum())
    assert set(spec_knn.example_labels(smaller)) == {spec_knn.label_values(smaller).index("neg")}


def test_add_examples_refuses_data_without_the_label() -> None:
    knn = KnnClassifier.new(dimensions=2, default_label="?")
    with pytest.raises(DataError, match="label"):
        add_examples(knn.spec, {"features": np.zeros((2, 2), np.float32)})


def test_cli_add_and_remove_examples(tmp_path: Path) -> None:
    knn = KnnClassifier.new(dimensions=2, default_label="?", k=1)
    save(knn.spec, tmp_path / "knn.mlspec")
    np.savez(tmp_path / "new.npz", features=np.eye(2, dtype=np.float32), label=np.array(["wave", "clap"]))
    result = invoke(
        "add-examples", tmp_path / "knn.mlspec", "--data", tmp_path / "new.npz", "-o", tmp_path / "a.mlspec"
    )
    assert result.exit_code == 0, result.output
    assert "2 examples added, 2 stored, 2 labels" in result.stdout
    assert spec_knn.example_count(load(tmp_path / "knn.mlspec")) == 0  # the input is untouched
    result = invoke("remove-examples", tmp_path / "a.mlspec", "--labels", "wave", "-o", tmp_path / "b.mlspec")
    assert result.exit_code == 0, result.output
    assert spec_knn.label_values(load(tmp_path / "b.mlspec")) == ["wave", "clap"]
    assert spec_knn.example_count(load(tmp_path / "b.mlspec")) == 1
    network = tmp_path / "net.mlspec"
    save(_extractor(), network)
    result = invoke("add-examples", network, "--data", tmp_path / "new.npz", "-o", tmp_path / "c.mlspec")
    assert_one_line_failure(result, "add-examples needs a k-NN classifier spec")
    assert not (tmp_path / "c.mlspec").exists()
