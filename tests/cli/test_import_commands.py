"""import-onnx and import-coreml: the written spec, and the one-line refusals."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from mlspec.convert import to_onnx
from mlspec.reference import evaluate
from mlspec.spec import graph
from mlspec.spec.io import load
from tests.cli import specs
from tests.cli.conftest import assert_one_line_failure, invoke
from tests.importers.coreml_models import mlp_regressor


def test_import_onnx_gives_the_same_network(tmp_path: Path) -> None:
    original = specs.classifier()
    source = tmp_path / "model.onnx"
    source.write_bytes(to_onnx(original).SerializeToString())
    output = tmp_path / "imported.mlspec"
    result = invoke("import-onnx", source, "-o", output, "--labels", "cat,dog,fish")
    assert result.exit_code == 0, result.output
    assert "make-updatable" in result.stdout
    imported = load(output)
    assert graph.class_labels(imported) == ["cat", "dog", "fish"]
    x, _ = specs.blobs(6)
    probabilities = imported.classifier.predicted_probabilities_name
    np.testing.assert_allclose(
        evaluate(imported, {"x": x})[probabilities],
        evaluate(original, {"x": x})["probs"],
        rtol=1e-5,
        atol=1e-6,
    )


def test_import_onnx_refuses_a_file_that_is_not_onnx(tmp_path: Path) -> None:
    source = tmp_path / "model.onnx"
    source.write_bytes(b"\x00\x01not a model" * 10)
    output = tmp_path / "imported.mlspec"
    assert_one_line_failure(invoke("import-onnx", source, "-o", output), "model.onnx")
    assert not output.exists()


def test_import_coreml_keeps_the_update_settings(tmp_path: Path) -> None:
    source = tmp_path / "regressor.mlmodel"
    mlp_regressor(source)
    output = tmp_path / "regressor.mlspec"
    result = invoke("import-coreml", source, "-o", output)
    assert result.exit_code == 0, result.output
    imported = load(output)
    assert [layer.name for layer in imported.network.layers if layer.is_updatable] == ["out"]
    sgd = imported.update_parameters.optimizer.sgd
    assert (sgd.learning_rate.default_value, sgd.momentum.default_value) == (0.1, 0.25)
    assert list(sgd.mini_batch_size.set.values) == [1, 2, 4]


def test_import_coreml_names_the_extra_when_coremltools_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "regressor.mlmodel"
    mlp_regressor(source)
    for name in [module for module in sys.modules if module.split(".")[0] == "coremltools"]:
        monkeypatch.setitem(sys.modules, name, None)  # what an environment without the extra sees
    output = tmp_path / "regressor.mlspec"
    assert_one_line_failure(invoke("import-coreml", source, "-o", output), "mlspec[coreml]")
    assert not output.exists()
