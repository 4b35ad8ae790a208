"""`mlspec export-coreml`: writes a file coremltools reads, says what it left out, and refuses
with one error line per problem, writing nothing."""

from __future__ import annotations

from pathlib import Path

from coremltools.models.utils import load_spec

from mlspec._proto import model_pb2
from mlspec.builder import AdamWParams, NetworkBuilder, SgdParams
from tests.cli import specs
from tests.cli.conftest import invoke


def _trainable(layers: list[str], optimizer: SgdParams | AdamWParams) -> model_pb2.Model:
    builder = NetworkBuilder.edit(specs.classifier())
    builder.make_updatable(layers)
    builder.set_loss("categorical_cross_entropy", "probs")
    builder.set_optimizer(optimizer)
    builder.set_epochs(3, (1, 50))
    return builder.spec


def test_export_writes_an_updatable_model_and_names_what_it_left_out(tmp_path: Path) -> None:
    model = specs.write(_trainable(["fc2"], SgdParams(lr=0.2, batch=8)), tmp_path / "in.mlspec")
    result = invoke("export-coreml", model, "-o", tmp_path / "out.mlmodel")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == f"wrote {tmp_path / 'out.mlmodel'}: Core ML model"
    assert "left out: update_parameters.optimizer.sgd.weight_decay" in result.stdout
    coreml = load_spec(str(tmp_path / "out.mlmodel"))
    assert coreml.isUpdatable and coreml.specificationVersion == 4
    assert [layer.name for layer in coreml.neuralNetworkClassifier.layers if layer.isUpdatable] == ["fc2"]


def test_refusal_prints_one_error_line_per_problem_and_writes_nothing(tmp_path: Path) -> None:
    builder = NetworkBuilder.edit(specs.updatable_classifier())  # fc1, bn and fc2 train
    builder.set_optimizer(AdamWParams(lr=0.01, batch=8, weight_decay=0.05))
    model = specs.write(builder.spec, tmp_path / "in.mlspec")
    result = invoke("export-coreml", model, "-o", tmp_path / "out.mlmodel")
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert lines == [
        'error: cannot write Core ML: layers["bn"]: an updatable batch_norm; Core ML trains dense and '
        "convolution layers only",
        "error: cannot write Core ML: update_parameters.optimizer.adamw.weight_decay: AdamW with decoupled "
        "weight decay 0.05; Core ML has Adam only",
    ]
    assert "Traceback" not in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.mlspec"]


def test_drop_unsupported_turns_adamw_without_decay_into_adam(tmp_path: Path) -> None:
    spec = _trainable(["fc1", "fc2"], AdamWParams(lr=0.01, batch=8, weight_decay=0.0))
    model = specs.write(spec, tmp_path / "in.mlspec")
    refused = invoke("export-coreml", model, "-o", tmp_path / "out.mlmodel")
    assert refused.exit_code == 1 and "--drop-unsupported" in refused.stderr
    result = invoke("export-coreml", model, "-o", tmp_path / "out.mlmodel", "--drop-unsupported")
    assert result.exit_code == 0, result.output
    assert "left out: update_parameters.optimizer.adamw: AdamW" in result.stdout
    optimizer = load_spec(str(tmp_path / "out.mlmodel")).neuralNetworkClassifier.updateParams.optimizer
    assert optimizer.WhichOneof("OptimizerType") == "adamOptimizer"
