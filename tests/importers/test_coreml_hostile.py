"""Hostile Core ML files (issue 16): each ends in one CoreMLImportError naming the file and the
layer, never an internal error. The cases are the ones tools/fuzz/import_fuzz.py found."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from coremltools.models.utils import save_spec

from mlspec.convert.importers import CoreMLImportError, import_coreml
from tests.importers.coreml_models import cnn_classifier
from tests.importers.refusals import assert_refused


def _refused(spec: Any, path: Path, *fragments: str) -> str:
    save_spec(spec, str(path))
    return assert_refused(import_coreml, CoreMLImportError, path, *fragments)


def test_import_coreml_layer_without_inputs_is_an_error(tmp_path: Path) -> None:
    spec, _ = cnn_classifier(tmp_path / "cnn.mlmodel")
    del spec.neuralNetworkClassifier.layers[1].input[:]
    _refused(spec, tmp_path / "broken.mlmodel", 'layers["relu"] has 0 inputs and 1 outputs')


def test_import_coreml_layer_reading_an_unknown_tensor_is_an_error(tmp_path: Path) -> None:
    spec, _ = cnn_classifier(tmp_path / "cnn.mlmodel")
    spec.neuralNetworkClassifier.layers[1].input[0] = "nowhere"
    _refused(spec, tmp_path / "broken.mlmodel", 'layers["relu"] reads "nowhere"')


def test_import_coreml_channel_count_of_2_63_is_an_error(tmp_path: Path) -> None:
    spec, _ = cnn_classifier(tmp_path / "cnn.mlmodel")
    spec.neuralNetworkClassifier.layers[0].convolution.outputChannels = 2**63
    _refused(
        spec, tmp_path / "broken.mlmodel", 'layers["conv"].convolution.outputChannels = 9223372036854775808'
    )


def test_import_coreml_network_without_layers_is_an_error(tmp_path: Path) -> None:
    spec, _ = cnn_classifier(tmp_path / "cnn.mlmodel")
    del spec.neuralNetworkClassifier.layers[:]
    _refused(spec, tmp_path / "broken.mlmodel", "the network has no layers")


def test_import_coreml_special_file_is_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "model.mlmodel")
    with pytest.raises(CoreMLImportError, match="not a regular file"):
        import_coreml(tmp_path / "model.mlmodel")


def test_import_coreml_loss_layer_without_a_type_names_the_file_and_the_types(tmp_path: Path) -> None:
    """Fuzz input coreml seed 100 #6483: the error lacked the file name."""
    spec, _ = cnn_classifier(tmp_path / "cnn.mlmodel")
    loss = spec.neuralNetworkClassifier.updateParams.lossLayers[0]
    loss.ClearField("categoricalCrossEntropyLossLayer")
    _refused(
        spec,
        tmp_path / "broken.mlmodel",
        f'updateParams.lossLayers["{loss.name}"] has no loss type',
        "categoricalCrossEntropyLossLayer and meanSquaredErrorLossLayer",
    )


@pytest.mark.parametrize("which", ["pipeline", "pipelineClassifier"])
def test_import_coreml_pipeline_of_other_models_names_the_stages(which: str, tmp_path: Path) -> None:
    """Fuzz input coreml seed 2026 #397 (248 of 100,000): a plain Pipeline was read as if it wrapped
    one like PipelineClassifier does, an AttributeError caught only at the import boundary."""
    spec, _ = cnn_classifier(tmp_path / "cnn.mlmodel")
    stage = type(spec)()
    stage.CopyFrom(spec)
    spec.ClearField("neuralNetworkClassifier")
    pipeline = getattr(spec, which)
    models = pipeline.models if which == "pipeline" else pipeline.pipeline.models
    models.add().CopyFrom(stage)
    message = _refused(
        spec, tmp_path / "pipe.mlmodel", "a pipeline of neuralNetworkClassifier; mlspec imports"
    )
    assert "malformed" not in message
