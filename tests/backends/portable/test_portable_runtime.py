"""The runtime's features on the portable backend: cancel, checkpoint, resume, write-back, auto."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import mlspec
from mlspec import backends
from mlspec._proto import model_pb2, tensor_pb2
from mlspec.backends import to_training_artifacts
from mlspec.builder import AdamParams, NetworkBuilder, SgdParams
from mlspec.runtime import Trainer, TrainingEvent
from mlspec.spec.errors import MlspecError
from tests.cli.conftest import invoke
from tests.runtime.models import blobs, classifier, cnn


@pytest.mark.ort_training
def test_cancel_checkpoint_and_resume_is_exact_and_matches_ort_training(tmp_path: Path) -> None:
    x, y = blobs(10, seed=2)
    spec = classifier(AdamParams(lr=0.05), hidden=5)
    interrupted = Trainer.from_spec(spec, backend="portable")

    def cancel_at_five(event: TrainingEvent) -> None:
        if event.kind == "mini_batch_end" and event.step == 5:
            interrupted.cancel()

    result = interrupted.train((x, y), callbacks=[cancel_at_five])
    assert result.cancelled and result.steps == 5
    interrupted.save_checkpoint(tmp_path / "ckpt")

    resumed = Trainer.from_spec(spec, backend="portable")
    finished = resumed.train((x, y), checkpoint_dir=tmp_path / "ckpt", resume=True)
    uninterrupted = Trainer.from_spec(spec, backend="portable")
    expected = uninterrupted.train((x, y))
    ort = Trainer.from_spec(spec, backend="ort-training")
    ort_result = ort.train((x, y))
    assert finished.steps == expected.steps == ort_result.steps == 6  # 2 epochs of batches 4, 4, 2
    assert finished.epoch_losses == pytest.approx(expected.epoch_losses, rel=1e-6)
    assert expected.epoch_losses == pytest.approx(ort_result.epoch_losses, rel=1e-5)
    for name, value in uninterrupted.parameters().items():
        np.testing.assert_allclose(resumed.parameters()[name], value, rtol=0, atol=1e-6, err_msg=name)
        np.testing.assert_allclose(ort.parameters()[name], value, rtol=1e-5, atol=1e-6, err_msg=name)
    updated = resumed.updated_model()
    assert (
        updated.network.layers[0].inner_product.weights.raw_data
        != spec.network.layers[0].inner_product.weights.raw_data
    )


@pytest.mark.ort_training
def test_overrides_reach_the_step_model(tmp_path: Path) -> None:
    x, y = blobs(8, seed=1)
    spec = classifier(SgdParams(lr=0.1, batch=4, momentum=0.9), hidden=3)
    runs = {}
    for backend in ("portable", "ort-training"):
        trainer = Trainer.from_spec(spec, backend=backend, learning_rate=0.3, momentum=0.5, nesterov=True)
        trainer.train((x, y))
        runs[backend] = trainer.parameters()
    plain = Trainer.from_spec(spec, backend="portable")
    plain.train((x, y))
    for name, value in runs["ort-training"].items():
        np.testing.assert_allclose(runs["portable"][name], value, rtol=1e-5, atol=1e-6, err_msg=name)
        assert not np.allclose(plain.parameters()[name], value)


def erf_classifier() -> model_pb2.Model:
    """x -> dense -> Erf -> softmax: ORT differentiates Erf, the portable backend has no rule for it."""
    builder = NetworkBuilder(class_labels=[0, 1, 2], seed=0)
    builder.add_input("x", [4])
    builder.add_inner_product("fc", "x", 3)
    builder.add_onnx_node("erf", ["fc"], "Erf", output_types=[(tensor_pb2.FLOAT32, ["batch", 3])])
    builder.add_softmax("probs", "erf")
    builder.make_updatable(["fc"])
    builder.set_loss("categorical_cross_entropy", "probs")
    builder.set_optimizer(SgdParams(lr=0.1, batch=4))
    builder.set_epochs(1)
    return builder.spec


@pytest.mark.ort_training
def test_auto_picks_portable_when_it_covers_the_graph_else_ort_training(tmp_path: Path) -> None:
    assert to_training_artifacts(classifier(hidden=3), tmp_path / "mlp", backend="auto").backend == "portable"
    assert to_training_artifacts(cnn(), tmp_path / "cnn", backend="auto").backend == "portable"
    assert to_training_artifacts(erf_classifier(), tmp_path / "erf", backend="auto").backend == "ort-training"


def test_auto_without_ort_training_names_what_the_portable_backend_lacks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backends, "ort_training_installed", lambda: False)
    with pytest.raises(MlspecError, match=r"no installed backend can train this model: .*erf.*\(Erf\)"):
        to_training_artifacts(erf_classifier(), tmp_path / "erf", backend="auto")
    assert not (tmp_path / "erf").exists()


def test_cli_trains_on_the_portable_backend(tmp_path: Path) -> None:
    spec_path, data = tmp_path / "model.mlspec", tmp_path / "train.npz"
    mlspec.save(classifier(hidden=4), spec_path)
    x, y = blobs(16, seed=3)
    np.savez(data, x=x, label=y)
    converted = invoke("convert", spec_path, "-o", tmp_path / "artifacts", "--backend", "portable")
    assert converted.exit_code == 0, converted.output
    assert "portable step" in converted.stdout
    trained = invoke(
        "train", spec_path, "--data", data, "-o", tmp_path / "out.mlspec", "--backend", "portable"
    )
    assert trained.exit_code == 0, trained.output
    assert mlspec.load(tmp_path / "out.mlspec").network.layers[0].inner_product.weights.raw_data != (
        mlspec.load(spec_path).network.layers[0].inner_product.weights.raw_data
    )
