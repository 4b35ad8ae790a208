"""Core ML image inputs: imageType and its scaler import as an mlspec image input, the imported
model computes what Core ML's semantics say on raw pixels, and export writes them back field for
field (the round trip of a Core ML model and of a builder spec)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from coremltools.models.utils import load_spec, save_spec

from mlspec._proto import model_pb2
from mlspec.builder import NetworkBuilder
from mlspec.convert.exporters import CoreMLExportError, export_coreml, write_coreml
from mlspec.convert.importers import import_coreml
from mlspec.runtime import Trainer
from mlspec.spec.images import ImageInput
from mlspec.spec.validate import find_problems
from tests.importers.coreml_models import cnn_classifier, conv_forward_numpy
from tests.support.heads import classifier_head

_BGR = 30
SCALE, RED, GREEN, BLUE = 0.5, -1.0, -2.0, -3.0


def _image_classifier(path: Path) -> tuple[Any, Any]:
    """The CNN classifier fixture with its [3, 6, 6] array input turned into a 6x6 BGR image with
    a scaler, as coremltools' set_pre_processing_parameters writes it."""
    coreml, weights = cnn_classifier(path)
    for feature in (*coreml.description.input, *coreml.description.trainingInput):
        if feature.name == "image":
            feature.type.ClearField("multiArrayType")
            feature.type.imageType.width = feature.type.imageType.height = 6
            feature.type.imageType.colorSpace = _BGR
    scaler = coreml.neuralNetworkClassifier.preprocessing.add(featureName="image").scaler
    scaler.channelScale, scaler.redBias, scaler.greenBias, scaler.blueBias = SCALE, RED, GREEN, BLUE
    save_spec(coreml, str(path))
    return coreml, weights


def test_image_type_and_scaler_import_as_an_image_input(tmp_path: Path) -> None:
    _image_classifier(tmp_path / "image.mlmodel")
    spec = import_coreml(tmp_path / "image.mlmodel")
    assert find_problems(spec) == []
    assert spec.network.layers[0].name == "conv"  # no preprocessing layer
    image = ImageInput.of(spec.description.inputs[0].image)
    assert image == ImageInput(6, 6, "bgr", (SCALE,) * 3, (BLUE, GREEN, RED))
    shape = spec.description.inputs[0].type.tensor.shape
    assert [d.symbol or d.size for d in shape] == ["batch", 3, 6, 6]


def test_imported_image_model_computes_core_mls_preprocessing_on_raw_pixels(tmp_path: Path) -> None:
    _, weights = _image_classifier(tmp_path / "image.mlmodel")
    trainer = Trainer.from_spec(import_coreml(tmp_path / "image.mlmodel"))
    rgb = np.random.default_rng(3).integers(0, 256, (5, 6, 6, 3), dtype=np.uint8)  # as Pillow decodes
    probabilities = trainer.predict({"image": rgb})["labelProbability"]
    # Core ML: the BGR image's channels, each pixel * channelScale + that channel's bias.
    bgr = rgb.astype(np.float64).transpose(0, 3, 1, 2)[:, ::-1]
    network_input = bgr * SCALE + np.array([BLUE, GREEN, RED])[None, :, None, None]
    np.testing.assert_allclose(probabilities, conv_forward_numpy(network_input, weights), atol=1e-5)


def test_core_ml_image_model_survives_import_export_import(tmp_path: Path) -> None:
    original, _ = _image_classifier(tmp_path / "image.mlmodel")
    first = import_coreml(tmp_path / "image.mlmodel")
    write_coreml(first, tmp_path / "again.mlmodel")
    written = load_spec(str(tmp_path / "again.mlmodel"))
    assert written.description.input[0].type.imageType == original.description.input[0].type.imageType
    steps = written.neuralNetworkClassifier.preprocessing
    assert [step.featureName for step in steps] == ["image"]
    assert steps[0].scaler == original.neuralNetworkClassifier.preprocessing[0].scaler
    again = import_coreml(tmp_path / "again.mlmodel")
    first.metadata.name = again.metadata.name = ""
    assert again == first


def _photo_spec(
    scale: float | list[float], bias: float | list[float], color_space: str = "gray"
) -> model_pb2.Model:
    builder = NetworkBuilder(class_labels=["dark", "light"], seed=2)
    builder.add_image_input("photo", 5, 4, color_space=color_space, scale=scale, bias=bias)
    return classifier_head(builder, "photo", 2).spec


@pytest.mark.parametrize(
    ("color_space", "scale", "bias"),
    [("gray", 1 / 255, -0.5), ("rgb", 1.0, 0.0), ("bgr", 0.25, [-1.0, 0.5, 2.0])],
)
def test_builder_image_inputs_come_back_unchanged(
    color_space: str, scale: float, bias: float | list[float], tmp_path: Path
) -> None:
    spec = _photo_spec(scale, bias, color_space)
    write_coreml(spec, tmp_path / "photo.mlmodel")
    back = import_coreml(tmp_path / "photo.mlmodel")
    ours, theirs = (
        ImageInput.of(spec.description.inputs[0].image),
        ImageInput.of(back.description.inputs[0].image),
    )
    # Core ML stores the scaler as float32: the round trip keeps the float32-rounded values.
    assert theirs.scale == tuple(float(np.float32(v)) for v in ours.scale)
    assert theirs.bias == tuple(float(np.float32(v)) for v in ours.bias)
    assert (theirs.width, theirs.height, theirs.color_space) == (5, 4, color_space)
    coreml = export_coreml(spec).model
    identity = scale == 1.0 and bias == 0.0
    assert len(coreml.neuralNetworkClassifier.preprocessing) == (0 if identity else 1)


def test_per_channel_scales_are_refused_naming_the_input() -> None:
    spec = _photo_spec([1 / 58.4, 1 / 57.1, 1 / 57.4], 0.0, "rgb")
    with pytest.raises(CoreMLExportError) as caught:
        export_coreml(spec)
    assert caught.value.lines() == [
        'cannot write Core ML: description.inputs["photo"].image: per-channel scales '
        "(0.0171233, 0.0175131, 0.0174216); Core ML's image scaler takes one scale for every channel"
    ]


def test_augmentation_is_dropped_only_when_asked_and_then_said() -> None:
    builder = NetworkBuilder.edit(_photo_spec(1 / 255, 0.0, "rgb"))
    builder.set_augmentation(horizontal_flip=True)
    with pytest.raises(CoreMLExportError, match=r"update_parameters\.augmentation: image augmentation"):
        export_coreml(builder.spec)
    dropped = export_coreml(builder.spec, drop_unsupported=True).dropped
    assert any(line.startswith("update_parameters.augmentation: image augmentation") for line in dropped)
