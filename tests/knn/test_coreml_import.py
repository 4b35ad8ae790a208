"""Core ML k-NN models built with coremltools import with k and its allowed values, export to
ONNX, and agree with scikit-learn on every test digit."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.neighbors import KNeighborsClassifier

from mlspec.backends.inference import run_inference
from mlspec.builder import inspect_model
from mlspec.convert import to_onnx
from mlspec.convert.importers import CoreMLImportError, import_coreml
from mlspec.spec import knn as spec_knn
from mlspec.spec.validate import find_problems
from tests.knn.coreml_knn_models import knn_classifier, pipeline

X, Y = load_digits(return_X_y=True)
STORED, STORED_Y, TEST, TEST_Y = X[::2], Y[::2], X[1::2], Y[1::2]


@pytest.mark.parametrize("weighting", ["uniform", "inverse_distance"])
def test_knn_classifier_imports_exports_and_matches_sklearn(tmp_path: Path, weighting: str) -> None:
    labels = [f"digit{v}" for v in STORED_Y]
    knn_classifier(
        tmp_path / "Digits.mlmodel", STORED, labels, k=5, allowed_range=(1, 12), weighting=weighting
    )
    model = import_coreml(tmp_path / "Digits.mlmodel")
    assert find_problems(model) == []
    summary = inspect_model(model)["knn"]
    assert summary["k"] == {"default": 5, "range": [1, 12]}
    assert (summary["weighting"], summary["default_label"], summary["example_count"]) == (
        weighting,
        "none",
        len(STORED),
    )
    assert model.is_updatable
    np.testing.assert_array_equal(spec_knn.examples(model), STORED.astype(np.float32))
    out = run_inference(to_onnx(model).SerializeToString(), {"pixels": TEST.astype(np.float32)})
    sk = KNeighborsClassifier(
        5, weights="distance" if weighting != "uniform" else "uniform", algorithm="brute"
    )
    expected = sk.fit(STORED, labels).predict(TEST)
    assert len(out["digit"]) == len(TEST) == 898
    assert (out["digit"] == expected).all()
    assert (out["digit"] == np.array([f"digit{v}" for v in TEST_Y])).mean() > 0.97


def test_pipeline_of_network_and_knn_keeps_the_allowed_set(tmp_path: Path) -> None:
    projection = np.random.default_rng(3).integers(0, 2, size=(24, 64)).astype(np.float32)
    pipeline(
        tmp_path / "Pipeline.mlmodel", projection, STORED, [int(v) for v in STORED_Y], k=3, allowed=[1, 3, 7]
    )
    model = import_coreml(tmp_path / "Pipeline.mlmodel")
    assert find_problems(model) == []
    assert inspect_model(model)["knn"]["k"] == {"default": 3, "set": [1, 3, 7]}
    assert [layer.is_updatable for layer in model.network.layers] == [False, False]
    out = run_inference(to_onnx(model).SerializeToString(), {"pixels": TEST.astype(np.float32)})

    def embedded(x: np.ndarray) -> np.ndarray:
        return np.maximum(x @ projection.T, 0)

    sk = KNeighborsClassifier(3, weights="distance", algorithm="brute").fit(embedded(STORED), STORED_Y)
    assert (out["digit"] == sk.predict(embedded(TEST))).all()


def test_a_pipeline_of_other_stages_is_refused_by_kind(tmp_path: Path) -> None:
    from coremltools.models.utils import save_spec  # noqa: PLC0415
    from coremltools.proto import Model_pb2  # noqa: PLC0415

    spec = Model_pb2.Model(specificationVersion=4)
    spec.pipelineClassifier.pipeline.models.add().kNearestNeighborsClassifier.SetInParent()
    save_spec(spec, str(tmp_path / "odd.mlmodel"))
    with pytest.raises(
        CoreMLImportError, match="a pipeline of kNearestNeighborsClassifier; mlspec imports a pipeline"
    ):
        import_coreml(tmp_path / "odd.mlmodel")
