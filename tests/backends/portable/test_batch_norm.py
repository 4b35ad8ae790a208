"""Batch norm in training mode on the portable backend, judged by the numpy reference and PyTorch.

The reference (mlspec.reference, training=True) normalises with the batch statistics and moves
the running statistics by momentum toward the batch mean and, as PyTorch does, the unbiased
batch variance (ddof=1); `biased_running_variance` keeps ONNX's biased one. Each step's loss and
running statistics must equal the reference's on the pre-step weights, the gradients must equal
central finite differences of the reference's loss, and 100 steps must end where the
ort-training backend ends. A batch with one value per channel is refused by name.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlspec._proto import model_pb2
from mlspec.backends import open_session, to_training_artifacts
from mlspec.builder import NetworkBuilder, SgdParams
from mlspec.reference import evaluate
from mlspec.runtime import Trainer
from mlspec.spec.errors import MlspecError
from mlspec.spec.graph import find_layer
from mlspec.spec.weights import to_numpy
from tests.backends.portable.networks import portable_gradients

BATCH = 8


def network(*, biased: bool = False, conv: bool = False) -> model_pb2.Model:
    """x -> (dense | conv) -> batch norm -> relu -> dense -> softmax, every layer updatable."""
    builder = NetworkBuilder(class_labels=[0, 1, 2], seed=4)
    if conv:
        builder.add_input("x", [2, 5, 5])
        builder.add_convolution("first", "x", 4, (3, 3))
        builder.add_batch_norm("bn", "first", momentum=0.8, biased_running_variance=biased)
        builder.add_activation("relu", "bn", "relu")
        builder.add_flatten("flat", "relu")
        builder.add_inner_product("head", "flat", 3)
    else:
        builder.add_input("x", [6])
        builder.add_inner_product("first", "x", 5)
        builder.add_batch_norm("bn", "first", momentum=0.8, biased_running_variance=biased)
        builder.add_activation("relu", "bn", "relu")
        builder.add_inner_product("head", "relu", 3)
    builder.add_softmax("probs", "head")
    builder.make_updatable(["first", "bn", "head"])
    builder.set_loss("categorical_cross_entropy", "probs")
    params = SgdParams(lr=0.05, batch=BATCH, momentum=0.5)
    params.set_batch(BATCH, [1, BATCH])
    builder.set_optimizer(params)
    builder.set_epochs(1, (1, 10))
    return builder.spec


def batch(spec: model_pb2.Model, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    shape = (BATCH, 2, 5, 5) if find_layer(spec, "first").HasField("convolution") else (BATCH, 6)
    return {
        "x": (rng.normal(size=shape) * 2 + 1).astype(np.float32),
        "label": rng.integers(0, 3, size=BATCH).astype(np.int64),
    }


def reference_loss(spec: model_pb2.Model, feeds: dict[str, np.ndarray], **overrides: np.ndarray) -> float:
    probabilities = evaluate(spec, {"x": feeds["x"]}, training=True, dtype=np.float64, overrides=overrides)[
        "probs"
    ]
    return float(-np.mean(np.log(probabilities[np.arange(BATCH), feeds["label"]])))


@pytest.mark.parametrize("conv", [False, True], ids=["dense", "conv"])
def test_gradients_equal_finite_differences_of_the_reference(conv: bool) -> None:
    spec = network(conv=conv)
    feeds = batch(spec, 0)
    loss, grads, _ = portable_gradients(spec, feeds)
    assert loss == pytest.approx(reference_loss(spec, feeds), rel=1e-5)
    for name in ("bn.gamma", "bn.beta", "first.weights"):
        layer, field = name.split(".")
        base = to_numpy(
            getattr(find_layer(spec, layer), find_layer(spec, layer).WhichOneof("kind")).__getattribute__(
                field
            )
        ).astype(np.float64)
        numeric = np.zeros_like(base)
        for index in np.ndindex(base.shape):
            if index[-1] > 1:  # a few columns of each tensor keep the check quick
                continue
            step = np.zeros_like(base)
            step[index] = 1e-4
            plus = reference_loss(spec, feeds, **{name: base + step})
            minus = reference_loss(spec, feeds, **{name: base - step})
            numeric[index] = (plus - minus) / 2e-4
        checked = np.zeros(base.shape, dtype=bool)
        checked[..., :2] = True
        np.testing.assert_allclose(grads[name][checked], numeric[checked], rtol=1e-3, atol=1e-5, err_msg=name)


@pytest.mark.parametrize("biased", [False, True], ids=["unbiased", "biased"])
@pytest.mark.parametrize("conv", [False, True], ids=["dense", "conv"])
def test_each_step_moves_the_running_statistics_like_the_reference(
    conv: bool, biased: bool, tmp_path: Path
) -> None:
    spec = network(conv=conv, biased=biased)
    manifest = to_training_artifacts(spec, tmp_path / "portable", backend="portable")
    assert [ref.name for ref in manifest.frozen] == ["bn.running_mean", "bn.running_variance"]
    session = open_session(tmp_path / "portable")
    for seed in range(5):
        feeds = batch(spec, seed)
        before = session.parameters()
        overrides = {name: value.astype(np.float64) for name, value in before.items()}
        wanted = ["probs", "bn.running_mean", "bn.running_variance"]
        reference = evaluate(
            spec, {"x": feeds["x"]}, training=True, dtype=np.float64, overrides=overrides, outputs=wanted
        )
        loss = session.train_step(feeds)
        expected_loss = -np.mean(np.log(reference["probs"][np.arange(BATCH), feeds["label"]]))
        assert loss == pytest.approx(expected_loss, rel=1e-5)
        after = session.parameters()
        for name in ("bn.running_mean", "bn.running_variance"):
            np.testing.assert_allclose(after[name], reference[name], rtol=1e-5, atol=1e-6, err_msg=name)
    # PyTorch's rule written out for the last step: momentum 0.8 keeps 80% (ONNX's convention).
    overrides = {name: value.astype(np.float64) for name, value in before.items()}
    first = evaluate(
        spec, {"x": feeds["x"]}, training=True, dtype=np.float64, overrides=overrides, outputs=["first"]
    )
    values = np.moveaxis(first["first"], 1, -1).reshape(-1, first["first"].shape[1])  # one column per channel
    moved = values.var(axis=0, ddof=0 if biased else 1)
    np.testing.assert_allclose(
        after["bn.running_variance"], 0.8 * before["bn.running_variance"] + 0.2 * moved, rtol=1e-5
    )


@pytest.mark.ort_training
@pytest.mark.parametrize("conv", [False, True], ids=["dense", "conv"])
def test_hundred_steps_end_where_ort_training_ends(conv: bool, tmp_path: Path) -> None:
    spec = network(conv=conv)
    for backend in ("portable", "ort-training"):
        to_training_artifacts(spec, tmp_path / backend, backend=backend)
    portable, ort = open_session(tmp_path / "portable"), open_session(tmp_path / "ort-training")
    for seed in range(100):
        feeds = batch(spec, seed)
        assert portable.train_step(feeds) == pytest.approx(ort.train_step(feeds), rel=1e-4)
    expected = ort.parameters()
    got = portable.parameters()
    assert set(got) == set(expected)
    for name, value in expected.items():
        np.testing.assert_allclose(got[name], value, rtol=1e-5, atol=1e-5, err_msg=name)


@pytest.mark.parametrize(
    "backend", ["portable", pytest.param("ort-training", marks=pytest.mark.ort_training)]
)
def test_a_batch_with_one_value_per_channel_is_refused_naming_layer_and_size(backend: str) -> None:
    spec = network()
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(9, 6)).astype(np.float32), rng.integers(0, 3, 9)
    with Trainer.from_spec(spec, backend=backend) as trainer:
        before = trainer.parameters()
        with pytest.raises(
            MlspecError, match=r'layers\["bn"\]: .* 9 examples in batches of 8 leave a last mini-batch of 1'
        ):
            trainer.train((x, y))
        for name, value in trainer.parameters().items():
            np.testing.assert_array_equal(value, before[name])  # nothing trained
    with (
        Trainer.from_spec(spec, backend=backend, mini_batch_size=1) as trainer,
        pytest.raises(MlspecError, match=r'layers\["bn"\]: .*the mini-batch size is 1'),
    ):
        trainer.train((x[:4], y[:4]))
    with Trainer.from_spec(
        network(conv=True), backend=backend, epochs=1
    ) as trainer:  # 9 positions per channel
        images = rng.normal(size=(9, 2, 5, 5)).astype(np.float32)
        assert np.isfinite(trainer.train((images, rng.integers(0, 3, 9))).epoch_losses[-1])
