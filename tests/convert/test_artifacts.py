"""The artifact directory: its files, their validity, the manifest, and all-or-nothing writing."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import stat
from pathlib import Path

import numpy as np
import onnx
import pytest

from mlspec import MlspecError
from mlspec._proto import model_pb2
from mlspec.backends import to_training_artifacts
from mlspec.backends.ort_training import artifacts
from mlspec.backends.ort_training.session import TrainingSession
from mlspec.convert.artifact_graphs import checkable_training_model
from mlspec.convert.manifest import Manifest
from tests.support.specs import SpecMaker, mlp

ONNX_FILES = ("training_model.onnx", "eval_model.onnx", "optimizer_model.onnx", "inference_model.onnx")


def _bn_spec() -> model_pb2.Model:
    maker = SpecMaker("bn")
    maker.input("x", [2, 5])
    maker.conv("conv", "x", "c", (2, 3), kernel=[3])
    maker.batch_norm("bn", "c", "n", 3)
    maker.flatten("flat", "n", "f")
    maker.dense("fc", "f", "y", (9, 2))
    maker.output("y")
    maker.target("t", [2])
    maker.loss("huber", "huber", "y", "t", delta=2.0)
    maker.adam(0.01, decoupled=True, weight_decay=0.02)
    maker.clip(norm=1.0)
    return maker.spec()


@pytest.mark.parametrize("spec", [mlp(), _bn_spec()], ids=["mlp", "conv_bn"])
def test_every_file_is_written_and_every_model_is_valid(tmp_path: Path, spec: model_pb2.Model) -> None:
    target = tmp_path / "nested" / "out"
    to_training_artifacts(spec, target)
    assert sorted(os.listdir(target)) == sorted(artifacts.ARTIFACT_FILES)
    assert os.listdir(tmp_path / "nested") == ["out"]  # no staging directory left behind
    for name in ONNX_FILES:
        model = onnx.load(os.fspath(target / name))
        assert model.ir_version <= 10, name
        assert all(o.version <= 21 for o in model.opset_import if o.domain in ("", "ai.onnx")), name
        onnx.checker.check_model(checkable_training_model(model), full_check=True)


def test_manifest_describes_the_mlp(tmp_path: Path) -> None:
    spec = mlp()
    returned = to_training_artifacts(spec, tmp_path / "a")
    manifest = Manifest.load(tmp_path / "a")
    assert manifest == returned
    assert manifest.spec_sha256 == hashlib.sha256(spec.SerializeToString(deterministic=True)).hexdigest()
    assert (manifest.model_name, manifest.spec_version) == ("mlp", 1)
    assert manifest.feed_order == ["x", "y"] and manifest.eval_feed_order == ["x", "y"]
    assert [(f.name, f.dtype, f.shape, f.role) for f in manifest.inputs] == [
        ("x", "float32", ["batch", 4], "input")
    ]
    assert [(f.name, f.dtype, f.role) for f in manifest.training_inputs] == [("y", "string", "target")]
    assert manifest.label_mapping["y"].kind == "string"
    assert manifest.class_labels == ["class0", "class1", "class2"]
    assert [(entry.name, entry.kind, entry.weight) for entry in manifest.losses] == [
        ("ce", "categorical_cross_entropy", 1.0)
    ]
    assert [(p.name, p.layer, p.field) for p in manifest.trainable] == [
        ("fc1.weights", "fc1", "weights"),
        ("fc1.bias", "fc1", "bias"),
        ("fc2.weights", "fc2", "weights"),
        ("fc2.bias", "fc2", "bias"),
    ]
    assert manifest.frozen == [] and manifest.running_stat_writeback == []
    for name in ("training_model.onnx", "eval_model.onnx"):
        assert onnx.load(os.fspath(tmp_path / "a" / name)).graph.output[0].name == manifest.loss_output
    assert manifest.eval_outputs == [manifest.loss_output, "probs"]
    assert manifest.optimizer.kind == "sgd" and manifest.optimizer.ort_kind == "sgd"
    lr = manifest.hyperparameters["learning_rate"]
    assert (lr.type, lr.default, lr.range) == ("double", 0.1, [0.0, 10.0])
    assert (
        lr.violation("learning_rate", 20.0) == "learning_rate=20.0 is outside the allowed range [0.0, 10.0]"
    )
    assert manifest.hyperparameters["nesterov"].type == "bool"
    assert manifest.stock_ort.runs_alone
    assert "label_mapping" in manifest.stock_ort.needs_mlspec_runtime_for


def test_manifest_of_a_batch_norm_model_lists_write_back_and_baked_settings(tmp_path: Path) -> None:
    manifest = to_training_artifacts(_bn_spec(), tmp_path / "a")
    assert [(p.name, p.layer, p.field) for p in manifest.frozen] == [
        ("bn.running_mean", "bn", "running_mean"),
        ("bn.running_variance", "bn", "running_variance"),
    ]
    outputs = [o.name for o in onnx.load(os.fspath(tmp_path / "a" / "training_model.onnx")).graph.output]
    assert {w.parameter for w in manifest.running_stat_writeback} == {
        "bn.running_mean",
        "bn.running_variance",
    }
    for writeback in manifest.running_stat_writeback:
        assert (
            outputs[writeback.output_index]
            == writeback.output
            == manifest.training_outputs[writeback.output_index - 1]
        )
    eval_outputs = [o.name for o in onnx.load(os.fspath(tmp_path / "a" / "eval_model.onnx")).graph.output]
    assert eval_outputs == manifest.eval_outputs == [manifest.loss_output, "y"]
    assert manifest.optimizer.model_settings == {
        "beta1": 0.9,
        "beta2": 0.999,
        "eps": 1e-8,
        "weight_decay": 0.02,
    }
    assert manifest.optimizer.graph_settings == {"clip_norm": "mlspec.hyper/clip_norm"}
    assert manifest.clipping == "norm"
    assert manifest.losses[0].delta == 2.0
    assert not manifest.stock_ort.runs_alone
    assert "batch_norm_running_statistics_writeback" in manifest.stock_ort.needs_mlspec_runtime_for


def test_manifest_docstring_documents_every_key() -> None:
    import mlspec.convert.manifest as module  # noqa: PLC0415

    documented = module.__doc__ or ""
    for field in dataclasses.fields(Manifest):
        assert f"``{field.name}``" in documented, field.name


def test_reconverting_replaces_an_earlier_set(tmp_path: Path) -> None:
    target = tmp_path / "out"
    to_training_artifacts(mlp(optimizer="sgd"), target)
    to_training_artifacts(mlp(optimizer="adamw"), target)
    assert Manifest.load(target).optimizer.kind == "adamw"
    assert sorted(os.listdir(tmp_path)) == ["out"]


def test_a_failure_midway_leaves_no_files_and_keeps_the_old_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(model: model_pb2.Model, **_: object) -> onnx.ModelProto:
        raise RuntimeError("simulated crash while writing the inference model")

    monkeypatch.setattr(artifacts, "to_onnx", broken)
    with pytest.raises(RuntimeError, match="simulated"):
        to_training_artifacts(mlp(), tmp_path / "fresh")
    assert os.listdir(tmp_path) == []
    monkeypatch.undo()
    to_training_artifacts(mlp(optimizer="sgd"), tmp_path / "kept")
    before = {name: (tmp_path / "kept" / name).read_bytes() for name in artifacts.ARTIFACT_FILES}
    monkeypatch.setattr(artifacts, "to_onnx", broken)
    with pytest.raises(RuntimeError, match="simulated"):
        to_training_artifacts(mlp(optimizer="adamw"), tmp_path / "kept")
    assert {name: (tmp_path / "kept" / name).read_bytes() for name in artifacts.ARTIFACT_FILES} == before
    assert sorted(os.listdir(tmp_path)) == ["kept"]


def test_a_directory_with_other_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(MlspecError, match=r"notes\.txt.*empty or new directory"):
        to_training_artifacts(mlp(), tmp_path)
    assert os.listdir(tmp_path) == ["notes.txt"]


def _must_not_call_ort(*args: object, **kwargs: object) -> None:
    raise AssertionError("ORT was called for a spec that cannot be converted")


@pytest.mark.parametrize(
    ("op", "named"),
    [
        ("Selu", r'layers\["fc1"\].*layers\["imported"\]'),  # no backend differentiates Selu
        ("HardSwish", r'layers\["imported"\] \(onnx_node HardSwish\).*--backend auto'),  # portable only
    ],
)
def test_an_updatable_layer_behind_a_gradient_blocker_fails_before_ort(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, op: str, named: str
) -> None:
    maker = SpecMaker("blocked")
    maker.input("x", [4])
    maker.dense("fc1", "x", "h", (4, 3))
    maker.onnx_node("imported", "h", "h2", op, [3])
    maker.dense("fc2", "h2", "y", (3, 2))
    maker.output("y")
    maker.target("t", [2])
    maker.loss("mse", "mean_squared_error", "y", "t")
    maker.sgd()
    monkeypatch.setattr(artifacts, "generate_training_models", _must_not_call_ort)
    with pytest.raises(MlspecError, match=named):
        to_training_artifacts(maker.spec(), tmp_path / "out", backend="ort-training")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("target_kind", ["float", "string"])
def test_cross_entropy_targets_that_are_not_class_labels_fail_before_ort(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, target_kind: str
) -> None:
    maker = SpecMaker("no_labels")
    maker.input("x", [4])
    maker.dense("fc", "x", "z", (4, 3))
    maker.output("z")
    maker.target("t", [3] if target_kind == "float" else None, kind=target_kind)
    maker.loss("ce", "categorical_cross_entropy", "z", "t", from_logits=True)
    maker.sgd()
    monkeypatch.setattr(artifacts, "generate_training_models", _must_not_call_ort)
    with pytest.raises(MlspecError, match=r'loss_layers\["ce"\]'):
        to_training_artifacts(maker.spec(), tmp_path / "out")


def test_session_refuses_unknown_overrides_missing_feeds_and_reserved_properties(tmp_path: Path) -> None:
    to_training_artifacts(mlp(), tmp_path / "a")
    with pytest.raises(MlspecError, match=r"unknown hyperparameter 'beta1'.*momentum"):
        TrainingSession(tmp_path / "a", hyperparameters={"beta1": 0.5})
    session = TrainingSession(tmp_path / "a")
    with pytest.raises(MlspecError, match="feeds lack 'y'; expected inputs: x, y"):
        session.train_step({"x": np.zeros((2, 4), np.float32)})
    with pytest.raises(MlspecError, match="reserved"):
        session.save_checkpoint(tmp_path / "c", {"mlspec.learning_rate": 1.0})
    with pytest.raises(MlspecError, match="no such checkpoint"):
        TrainingSession(tmp_path / "a", checkpoint=tmp_path / "missing")


def test_artifact_directory_gets_the_permissions_of_a_plain_mkdir(tmp_path: Path) -> None:
    """The set is staged in a temporary directory, which tempfile creates owner-only."""
    to_training_artifacts(mlp(), tmp_path / "artifacts")
    plain = tmp_path / "plain"
    plain.mkdir()
    assert stat.S_IMODE(os.stat(tmp_path / "artifacts").st_mode) == stat.S_IMODE(os.stat(plain).st_mode)
