"""The artifacts load in onnxruntime-training 1.19.2 and learn synthetic tasks.

Besides a falling loss, the CNN checks that batch-norm running statistics move during training
and that the eval and inference models use the moved values (judged by the numpy reference).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlspec._proto import model_pb2
from mlspec.backends import to_training_artifacts
from mlspec.backends.inference import run_inference
from mlspec.backends.ort_training.session import TrainingSession
from mlspec.convert import to_onnx
from mlspec.reference import evaluate
from mlspec.spec.graph import find_layer
from mlspec.spec.kinds import kind_message
from mlspec.spec.weights import set_tensor
from tests.support.specs import SpecMaker, merge_paths, mlp

RNG = np.random.default_rng(21)


def _train(session: TrainingSession, feeds: dict[str, np.ndarray], steps: int, batch: int) -> list[float]:
    count = len(next(iter(feeds.values())))
    losses = []
    for step in range(steps):
        rows = np.arange(step * batch, (step + 1) * batch) % count
        losses.append(session.train_step({name: value[rows] for name, value in feeds.items()}))
    return losses


def _with_weights(model: model_pb2.Model, weights: dict[str, np.ndarray]) -> model_pb2.Model:
    updated = model_pb2.Model()
    updated.CopyFrom(model)
    for name, value in weights.items():
        layer_name, _, field = name.rpartition(".")
        set_tensor(getattr(kind_message(find_layer(updated, layer_name)), field), value)
    return updated


def test_mlp_learns_a_separable_task(tmp_path: Path) -> None:
    x = RNG.normal(size=(256, 4)).astype(np.float32)
    labels = (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1.0).astype(np.int64)
    manifest = to_training_artifacts(mlp(optimizer="adamw"), tmp_path / "mlp")
    assert manifest.label_mapping["y"].labels == ["class0", "class1", "class2"]
    session = TrainingSession(tmp_path / "mlp", hyperparameters={"learning_rate": 0.05})
    losses = _train(session, {"x": x, "y": labels}, steps=120, batch=32)
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    loss, outputs = session.eval_step({"x": x, "y": labels})
    accuracy = float(np.mean(np.argmax(outputs["probs"], axis=1) == labels))
    assert accuracy > 0.85
    assert loss == pytest.approx(float(-np.mean(np.log(outputs["probs"][np.arange(256), labels]))), rel=1e-4)


def _bnns_cnn() -> model_pb2.Model:
    """Apple's BNNS sample shape: conv -> batch norm -> ReLU -> max pool -> dense -> softmax."""
    maker = SpecMaker("bnns_cnn", seed=4)
    maker.input("image", [1, 8, 8])
    maker.conv("conv", "image", "c", (1, 4), kernel=[3, 3], padding="same")
    maker.batch_norm("bn", "c", "n", 4, momentum=0.8)
    maker.activation("relu", "n", "r")
    maker.max_pool("pool", "r", "p", 2)
    maker.flatten("flat", "p", "f")
    maker.dense("fc", "f", "logits", (64, 2))
    maker.softmax("softmax", "logits", "probs")
    maker.output("probs")
    maker.classifier(["dark", "bright"], "probs")
    maker.target("label", kind="string")
    maker.loss("ce", "categorical_cross_entropy", "probs", "label")
    maker.sgd(0.05, momentum=0.9)
    return maker.spec()


def test_cnn_with_batch_norm_trains_and_uses_updated_running_statistics(tmp_path: Path) -> None:
    spec = _bnns_cnn()
    images = RNG.normal(size=(128, 1, 8, 8)).astype(np.float32)
    labels = (images[:, 0, 2:6, 2:6].mean(axis=(1, 2)) > 0).astype(np.int64)
    images += 0.5  # a shifted mean, so the running mean must move away from 0
    manifest = to_training_artifacts(spec, tmp_path / "cnn")
    assert {w.parameter for w in manifest.running_stat_writeback} == {
        "bn.running_mean",
        "bn.running_variance",
    }
    assert not manifest.stock_ort.runs_alone
    session = TrainingSession(tmp_path / "cnn")
    initial = session.parameters()
    losses = _train(session, {"image": images, "label": labels}, steps=60, batch=16)
    assert np.mean(losses[-10:]) < 0.7 * np.mean(losses[:10])
    trained = session.parameters()
    assert np.max(np.abs(trained["bn.running_mean"] - initial["bn.running_mean"])) > 0.05
    assert np.max(np.abs(trained["bn.running_variance"] - initial["bn.running_variance"])) > 0.05

    updated = _with_weights(spec, trained)
    probe = images[:8]
    expected = evaluate(updated, {"image": probe})["probs"]
    stale = evaluate(
        _with_weights(spec, {**trained, "bn.running_mean": initial["bn.running_mean"]}), {"image": probe}
    )["probs"]
    assert np.max(np.abs(expected - stale)) > 1e-3  # the running statistics matter for this check
    _, outputs = session.eval_step({"image": probe, "label": labels[:8]})
    np.testing.assert_allclose(outputs["probs"], expected, rtol=1e-4, atol=1e-5)
    inference = run_inference(to_onnx(updated).SerializeToString(), {"image": probe})
    np.testing.assert_allclose(inference["probs"], expected, rtol=1e-4, atol=1e-5)


def test_batch_norm_running_statistics_follow_the_onnx_momentum_rule(tmp_path: Path) -> None:
    spec = _bnns_cnn()
    to_training_artifacts(spec, tmp_path / "cnn")
    session = TrainingSession(tmp_path / "cnn")
    session.learning_rate = 0.0
    expected = session.parameters()["bn.running_mean"].astype(np.float64)
    for step in range(3):  # each step must start from the statistics the previous one wrote back
        images = RNG.normal(1.0 + step, 2.0, size=(6, 1, 8, 8)).astype(np.float32)
        session.train_step({"image": images, "label": np.zeros(6, np.int64)})
        conv = evaluate(spec, {"image": images}, outputs=["c"], dtype=np.float64)["c"]
        expected = 0.8 * expected + 0.2 * conv.mean(axis=(0, 2, 3))
        np.testing.assert_allclose(session.parameters()["bn.running_mean"], expected, rtol=1e-4, atol=1e-6)


def test_network_with_concat_add_and_reshape_trains_both_updatable_layers(tmp_path: Path) -> None:
    maker = SpecMaker("merge", seed=8)
    maker.output(merge_paths(maker, 1))
    maker.target("t", [1])
    maker.loss("mse", "mean_squared_error", "y", "t")
    maker.sgd(0.05)
    to_training_artifacts(maker.spec(), tmp_path / "merge")
    x = RNG.normal(size=(128, 4)).astype(np.float32)
    t = (np.sin(x[:, :1]) + 0.5 * x[:, 1:2]).astype(np.float32)
    session = TrainingSession(tmp_path / "merge")
    initial = session.parameters()
    losses = _train(session, {"x": x, "t": t}, steps=150, batch=16)
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:10])
    trained = session.parameters()
    assert not np.allclose(trained["fc1.weights"], initial["fc1.weights"])
    assert "side.weights" not in trained  # frozen layers stay constants inside the graph


def test_dropout_is_active_in_training_only(tmp_path: Path) -> None:
    maker = SpecMaker("dropout", seed=1)
    maker.input("x", [16])
    maker.dense("fc", "x", "h", (16, 16))
    maker.dropout("drop", "h", "d", 0.5)
    maker.dense("out", "d", "y", (16, 1))
    maker.output("y")
    maker.target("t", [1])
    maker.loss("mse", "mean_squared_error", "y", "t")
    maker.sgd(0.0)
    spec = maker.spec()
    to_training_artifacts(spec, tmp_path / "drop")
    session = TrainingSession(tmp_path / "drop")
    x = RNG.normal(size=(8, 16)).astype(np.float32)
    t = np.zeros((8, 1), np.float32)
    train_losses = {session.train_step({"x": x, "t": t}) for _ in range(4)}
    assert len(train_losses) > 1  # a fresh mask each step
    eval_loss, outputs = session.eval_step({"x": x, "t": t})
    expected = evaluate(spec, {"x": x})["y"]
    np.testing.assert_allclose(outputs["y"], expected, rtol=1e-5, atol=1e-6)
    assert eval_loss == pytest.approx(float(np.mean(expected.astype(np.float64) ** 2)), rel=1e-5)


def test_cross_entropy_on_saturated_probabilities_stays_exact(tmp_path: Path) -> None:
    """The loss on the softmax output is computed from its logits, so p rounding to 0 does no harm."""
    spec = mlp()
    to_training_artifacts(spec, tmp_path / "mlp")
    session = TrainingSession(tmp_path / "mlp")
    x = RNG.normal(size=(6, 4)).astype(np.float32) * 400.0
    logits = evaluate(spec, {"x": x}, outputs=["logits", "probs"])
    labels = np.argmin(logits["logits"], axis=1).astype(np.int64)  # the least likely class
    assert np.any(logits["probs"][np.arange(6), labels] == 0.0)  # a naive log(p) would be -inf
    shifted = logits["logits"].astype(np.float64) - logits["logits"].max(axis=1, keepdims=True)
    expected = -np.mean(shifted[np.arange(6), labels] - np.log(np.exp(shifted).sum(axis=1)))
    loss, _ = session.eval_step({"x": x, "y": labels})
    assert np.isfinite(loss)
    assert loss == pytest.approx(expected, rel=1e-4)
