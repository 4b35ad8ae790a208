"""k-NN specs exported to Core ML: KNearestNeighborsClassifier alone and after a feature
extractor in a pipeline. The import of the export is the same spec; a numpy reading of the
.mlmodel predicts what mlspec predicts on every test digit; Core ML's k-NN rules hold."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from coremltools.models.utils import load_spec
from google.protobuf import text_format
from sklearn.datasets import load_digits

from mlspec._proto import model_pb2
from mlspec.backends.inference import run_inference
from mlspec.builder import NetworkBuilder
from mlspec.builder.knn import KnnClassifier
from mlspec.convert import to_onnx
from mlspec.convert.exporters import CoreMLExportError, write_coreml
from mlspec.convert.importers import import_coreml
from mlspec.runtime import add_examples
from mlspec.spec.io import save
from tests.cli.conftest import invoke
from tests.knn.coreml_knn_reference import broken_knn_rules, predict

X, Y = load_digits(return_X_y=True)
STORED, STORED_Y, TEST = X[::2].astype(np.float32), Y[::2], X[1::2].astype(np.float32)


def plain_knn(weighting: str, string_labels: bool) -> model_pb2.Model:
    knn = KnnClassifier.new(
        dimensions=64,
        label_kind="string" if string_labels else "int64",
        default_label="none" if string_labels else -1,
        k=5,
        k_allowed=(1, 12),
        weighting=weighting,
        input_name="pixels",
    )
    labels = [f"digit{v}" for v in STORED_Y] if string_labels else [int(v) for v in STORED_Y]
    knn.add_examples(STORED, labels)
    return knn.spec


def extractor() -> model_pb2.Model:
    """pixels [64] -> dense with integer weights (distances stay exact in float32) -> relu."""
    projection = np.random.default_rng(3).integers(0, 2, size=(24, 64)).astype(np.float32)
    builder = NetworkBuilder(seed=0)
    builder.add_input("pixels", [64])
    builder.add_inner_product("project", "pixels", 24, weights=projection, has_bias=False)
    builder.add_activation("embedding", "project", "relu")
    return builder.spec


def pipeline_knn() -> model_pb2.Model:
    knn = KnnClassifier.new(
        dimensions=24,
        label_kind="int64",
        default_label=-1,
        k=3,
        k_allowed=[1, 3, 7],
        weighting="inverse_distance",
        feature_extractor=extractor(),
        feature_name="embedding",
    )
    return add_examples(knn.spec, {"pixels": STORED, "label": STORED_Y.astype(np.int64)})


def round_trip(spec: model_pb2.Model, path: Path) -> model_pb2.Model:
    assert write_coreml(spec, path) == []
    back = import_coreml(path)
    assert back.metadata.name == path.stem
    back.metadata.name = ""
    return back


def text(spec: model_pb2.Model) -> str:
    """The spec as text, an empty metadata message counted as none (Core ML always has one)."""
    copy = model_pb2.Model()
    copy.CopyFrom(spec)
    if copy.metadata == model_pb2.Metadata():
        copy.ClearField("metadata")
    return text_format.MessageToString(copy)


def mlspec_labels(spec: model_pb2.Model, images: np.ndarray) -> list[object]:
    out = run_inference(to_onnx(spec).SerializeToString(), {spec.description.inputs[0].name: images})
    labels: list[object] = out[spec.classifier.predicted_feature_name].tolist()
    return labels


@pytest.mark.parametrize("string_labels", [True, False], ids=["string", "int64"])
@pytest.mark.parametrize("weighting", ["uniform", "inverse_distance"])
def test_a_knn_comes_back_the_same_and_predicts_what_mlspec_predicts(
    weighting: str, string_labels: bool, tmp_path: Path
) -> None:
    spec = plain_knn(weighting, string_labels)
    path = tmp_path / "Digits.mlmodel"
    assert text(round_trip(spec, path)) == text(spec)
    coreml = load_spec(str(path))
    assert coreml.WhichOneof("Type") == "kNearestNeighborsClassifier"
    assert (coreml.specificationVersion, coreml.isUpdatable) == (4, True)
    assert broken_knn_rules(coreml) == []
    expected = mlspec_labels(spec, TEST)
    assert len(expected) == 898
    assert predict(coreml, {"pixels": TEST}) == expected


def test_a_pipeline_of_extractor_and_knn_comes_back_the_same_and_predicts_alike(tmp_path: Path) -> None:
    spec = pipeline_knn()
    path = tmp_path / "Pipeline.mlmodel"
    assert text(round_trip(spec, path)) == text(spec)
    coreml = load_spec(str(path))
    front, knn = coreml.pipelineClassifier.pipeline.models
    kinds = (front.WhichOneof("Type"), knn.WhichOneof("Type"))
    assert kinds == ("neuralNetwork", "kNearestNeighborsClassifier")
    assert (coreml.isUpdatable, front.isUpdatable, knn.isUpdatable) == (True, False, True)
    assert list(knn.kNearestNeighborsClassifier.numberOfNeighbors.set.values) == [1, 3, 7]
    assert [f.name for f in coreml.description.trainingInput] == ["pixels", "label"]
    assert broken_knn_rules(coreml) == []
    assert predict(coreml, {"pixels": TEST}) == mlspec_labels(spec, TEST)


def test_an_empty_knn_predicts_its_default_label_in_core_ml_too(tmp_path: Path) -> None:
    spec = KnnClassifier.new(dimensions=64, default_label="unknown", input_name="pixels").spec
    path = tmp_path / "Empty.mlmodel"
    back = round_trip(spec, path)
    assert text(back) == text(spec)
    coreml = load_spec(str(path))
    assert broken_knn_rules(coreml) == []
    assert predict(coreml, {"pixels": TEST[:3]}) == mlspec_labels(spec, TEST[:3]) == ["unknown"] * 3


def test_the_rules_checker_catches_a_broken_knn(tmp_path: Path) -> None:
    write_coreml(plain_knn("uniform", True), tmp_path / "Digits.mlmodel")
    coreml = load_spec(str(tmp_path / "Digits.mlmodel"))
    coreml.kNearestNeighborsClassifier.stringClassLabels.vector.pop()
    coreml.kNearestNeighborsClassifier.numberOfNeighbors.defaultValue = 13
    assert broken_knn_rules(coreml) == [
        "one label per sample",
        "numberOfNeighbors' default lies outside its range (or below 1)",
    ]


def test_cosine_distance_is_refused_and_nothing_is_written(tmp_path: Path) -> None:
    knn = KnnClassifier.new(dimensions=4, default_label="none", distance="cosine")
    path = tmp_path / "Cosine.mlmodel"
    with pytest.raises(CoreMLExportError) as caught:
        write_coreml(knn.spec, path)
    assert caught.value.lines() == [
        "cannot write Core ML: knn_classifier.distance: cosine; Core ML's k-NN measures squared "
        "Euclidean distance only"
    ]
    assert not path.exists()


def test_what_core_ml_lists_differently_is_left_out_and_said(tmp_path: Path) -> None:
    knn = KnnClassifier.new(dimensions=2, default_label="none", k=1, vote_tie="first_label")
    knn.add_examples(np.eye(2, dtype=np.float32).repeat(2, axis=0), ["wave", "wave", "nod", "nod"])
    knn.remove_examples(["nod"])
    dropped = write_coreml(knn.spec, tmp_path / "Gestures.mlmodel")
    assert dropped == [
        "knn_classifier.vote_tie: first_label is not stored; Core ML does not say how it breaks a tied vote",
        "classifier labels 'nod': no stored example has them and Core ML lists a label per example, "
        "so they are left out",
    ]
    back = import_coreml(tmp_path / "Gestures.mlmodel")
    assert list(back.classifier.string_labels.values) == ["wave"]


def test_export_coreml_command_writes_the_pipeline(tmp_path: Path) -> None:
    save(pipeline_knn(), tmp_path / "knn.mlspec")
    result = invoke("export-coreml", tmp_path / "knn.mlspec", "-o", tmp_path / "Knn.mlmodel")
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"wrote {tmp_path / 'Knn.mlmodel'}: Core ML model"
    assert load_spec(str(tmp_path / "Knn.mlmodel")).WhichOneof("Type") == "pipelineClassifier"
