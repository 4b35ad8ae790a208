"""The frozen-feature cache: same weights as training the whole network, reuse and invalidation,
refusal where features change between epochs, spilling to an unnamed memory-mapped file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import mlspec
from mlspec._proto import model_pb2
from mlspec.builder import AdamParams, NetworkBuilder
from mlspec.builder.frozen_prefix import split_frozen_prefix
from mlspec.runtime import Trainer
from mlspec.runtime.feature_cache import FeatureCache
from mlspec.spec.kinds import layer_tensors
from mlspec.spec.weights import set_tensor, to_float32
from tests.cli.conftest import invoke
from tests.support.heads import classifier_head

LABELS = ["a", "b", "c"]


def frozen_cnn(*, dropout: bool = False) -> model_pb2.Model:
    """conv + frozen batch norm + relu + pool (frozen) -> dense + relu -> dense -> softmax (trained)."""
    builder = NetworkBuilder(class_labels=LABELS, seed=3)
    builder.add_input("img", [2, 6, 6])
    builder.add_convolution("conv", "img", 4, (3, 3), padding="same")
    rng = np.random.default_rng(1)  # running statistics that are not the identity
    builder.add_batch_norm(
        "bn", "conv", running_mean=rng.uniform(-1, 1, 4), running_variance=rng.uniform(0.5, 1.5, 4)
    )
    builder.add_activation("relu", "bn", "relu")
    builder.add_pooling("pool", "relu", "max", (2, 2))
    front_out = "pool"
    if dropout:
        builder.add_dropout("drop", "pool", 0.3)
        front_out = "drop"
    builder.add_flatten("flat", front_out)
    builder.add_inner_product("hidden", "flat", 5)
    builder.add_activation("act", "hidden", "tanh")
    builder.add_inner_product("fc", "act", 3)
    builder.add_softmax("probs", "fc")
    builder.make_updatable(["hidden", "fc"])
    builder.set_loss("categorical_cross_entropy", "probs")
    builder.set_optimizer(AdamParams(lr=0.05, batch=4))
    builder.set_epochs(4, (1, 10))
    builder.set_shuffle(True)
    builder.set_seed(7)
    return builder.spec


def digits_like(count: int = 30, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "img": rng.normal(size=(count, 2, 6, 6)).astype(np.float32),
        "label": rng.choice(LABELS, count),
    }


def trained(
    spec: model_pb2.Model, data: object, *, feature_cache: bool = True
) -> tuple[Trainer, dict[str, np.ndarray], list[float]]:
    trainer = Trainer.from_spec(spec, feature_cache=feature_cache)
    result = trainer.train(data, validation=digits_like(12, seed=5))
    return trainer, trainer.parameters(), [*result.epoch_losses, *result.validation_losses]


def assert_same(left: dict[str, np.ndarray], right: dict[str, np.ndarray]) -> None:
    assert left.keys() == right.keys()
    for name, value in left.items():
        np.testing.assert_allclose(value, right[name], rtol=0, atol=1e-6, err_msg=name)


def test_cached_training_gives_the_weights_of_whole_network_training() -> None:
    spec, data = frozen_cnn(), digits_like()
    plain, plain_weights, plain_losses = trained(spec, data, feature_cache=False)
    cached, cached_weights, cached_losses = trained(spec, data)
    assert plain.feature_cache_note.startswith("off: turned off")
    assert cached.feature_cache_note.startswith("on: 5 frozen layers run once per example; 30 examples")
    assert "in memory" in cached.feature_cache_note
    assert set(plain_weights) == {"hidden.weights", "hidden.bias", "fc.weights", "fc.bias"}
    assert_same(plain_weights, cached_weights)
    np.testing.assert_allclose(plain_losses, cached_losses, rtol=1e-6)
    # The whole updated spec matches too, frozen front untouched.
    for a, b in zip(plain.updated_model().network.layers, cached.updated_model().network.layers, strict=True):
        assert a.name == b.name
        if a.name in ("conv", "bn"):
            assert a == b
    data_probs = cached.predict({"img": data["img"]})["probs"]
    np.testing.assert_allclose(plain.predict({"img": data["img"]})["probs"], data_probs, atol=1e-6)
    plain.close()
    cached.close()


def test_the_cache_is_reused_for_the_same_data_and_recomputed_when_data_or_frozen_weights_change() -> None:
    spec, data = frozen_cnn(), digits_like()
    cache = FeatureCache()
    with Trainer.from_spec(spec, feature_cache=cache) as trainer:
        trainer.train(data)
        assert cache.examples_computed == 30
        trainer.train(data)  # the same arrays: reused
        assert cache.examples_computed == 30
        assert "(reused)" in trainer.feature_cache_note
        changed = {"img": data["img"].copy(), "label": data["label"]}
        changed["img"][17, 1, 2, 3] += 0.5
        trainer.train(changed)
        assert cache.examples_computed == 60
    other = model_pb2.Model()
    other.CopyFrom(spec)
    conv = other.network.layers[0].convolution
    weights = to_float32(conv.weights).copy()
    weights.flat[0] += 0.25
    set_tensor(conv.weights, weights)
    with Trainer.from_spec(other, feature_cache=cache) as trainer:
        trainer.train(data)
        assert cache.examples_computed == 90  # new frozen weights: computed again
        shared_weights = trainer.parameters()
    _, reference, _ = trained(other, data, feature_cache=False)
    assert_same(reference, shared_weights)


def test_dropout_in_the_frozen_front_turns_the_cache_off_and_says_so() -> None:
    spec = frozen_cnn(dropout=True)
    cache = FeatureCache()
    with Trainer.from_spec(spec, feature_cache=cache) as trainer:
        trainer.train(digits_like())
        note = trainer.feature_cache_note
    assert note == 'off: the frozen layer "drop" is a dropout, whose output changes in every epoch'
    assert cache.examples_computed == 0


@pytest.mark.parametrize(
    ("updatable", "reason"),
    [
        (["conv", "fc"], 'the first layer, "conv", is updatable'),
        ([], "no layer is updatable"),
    ],
)
def test_no_front_no_split(updatable: list[str], reason: str) -> None:
    spec = frozen_cnn()
    for layer in spec.network.layers:
        layer.is_updatable = layer.name in updatable
    found = split_frozen_prefix(spec)
    assert isinstance(found, str) and found.startswith(reason)


def test_a_trained_layer_reading_a_model_input_directly_keeps_the_whole_network() -> None:
    builder = NetworkBuilder(mode="regressor", seed=0)
    builder.add_input("x", [3])
    builder.add_inner_product("frozen", "x", 3)
    builder.add_inner_product("fc", "frozen", 3)
    builder.add_add("sum", ["fc", "x"])
    builder.make_updatable(["fc"])
    builder.set_loss("mean_squared_error", "sum", target="y")
    assert split_frozen_prefix(builder.spec) == (
        "the trainable layers also read the model input x directly, "
        "so the frozen layers' outputs alone cannot stand in for the data"
    )


class Provider:
    def __init__(self, data: dict[str, np.ndarray]) -> None:
        self.data = data

    def __len__(self) -> int:
        return len(self.data["img"])

    def example(self, index: int) -> dict[str, np.ndarray]:
        return {name: array[index] for name, array in self.data.items()}


def test_streamed_data_runs_the_front_every_epoch_with_the_same_result() -> None:
    spec, data = frozen_cnn(), digits_like()
    _, reference, _ = trained(spec, data, feature_cache=False)
    cache = FeatureCache()
    with Trainer.from_spec(spec, feature_cache=cache) as trainer:
        trainer.train(Provider(data))
        assert trainer.feature_cache_note.startswith("off for this data: it is streamed from a provider")
        assert cache.examples_computed == 0
        assert_same(reference, trainer.parameters())


def test_features_past_the_memory_limit_go_to_an_unnamed_mapped_file(tmp_path: Path) -> None:
    spec, data = frozen_cnn(), digits_like()
    _, reference, _ = trained(spec, data, feature_cache=False)
    cache = FeatureCache(memory_limit=100, directory=tmp_path)
    with Trainer.from_spec(spec, feature_cache=cache) as trainer:
        trainer.train(data)
        assert "on disk (memory-mapped)" in trainer.feature_cache_note
        assert list(tmp_path.iterdir()) == []  # unlinked at creation: nothing to clean up
        assert_same(reference, trainer.parameters())


def test_a_killed_run_leaves_no_cache_file_behind(tmp_path: Path) -> None:
    spill = tmp_path / "spill"
    spill.mkdir()
    script = textwrap.dedent(
        f"""
        import sys, time
        sys.path.insert(0, {str(Path(__file__).parent)!r})
        from test_feature_cache import frozen_cnn, digits_like
        from mlspec.runtime import Trainer
        from mlspec.runtime.feature_cache import FeatureCache

        def hold(event):
            if event.kind == "mini_batch_end":
                print("training", flush=True)
                time.sleep(60)

        cache = FeatureCache(memory_limit=0, directory={str(spill)!r})
        Trainer.from_spec(frozen_cnn(), feature_cache=cache).train(digits_like(), callbacks=[hold])
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "training"
        maps = Path(f"/proc/{child.pid}/maps").read_text()
        assert any(str(spill) in line and "(deleted)" in line for line in maps.splitlines())
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert list(spill.iterdir()) == []


def test_artifacts_written_by_from_spec_train_with_the_front(tmp_path: Path) -> None:
    spec, data = frozen_cnn(), digits_like()
    _, reference, _ = trained(spec, data, feature_cache=False)
    Trainer.from_spec(spec, tmp_path / "art").close()
    trainer = Trainer.from_artifacts(tmp_path / "art", spec=spec)
    assert trainer.feature_cache_note.startswith("on: the 5 frozen layers in front (conv .. flat)")
    trainer.train(data, validation=digits_like(12, seed=5))
    assert_same(reference, trainer.parameters())


def test_train_command_says_whether_the_cache_ran_and_no_feature_cache_gives_the_same_spec(
    tmp_path: Path,
) -> None:
    model, data = tmp_path / "cnn.mlspec", tmp_path / "train.npz"
    mlspec.save(frozen_cnn(), model)
    np.savez(data, allow_pickle=False, **digits_like())
    outputs = {}
    for flag in ("--feature-cache", "--no-feature-cache"):
        outputs[flag] = tmp_path / f"{flag}.mlspec"
        result = invoke("train", model, "--data", data, "-o", outputs[flag], flag)
        assert result.exit_code == 0, result.output
        expected = "feature cache: on: 5 frozen layers" if flag == "--feature-cache" else "feature cache: off"
        assert expected in result.stdout
    cached, plain = (mlspec.load(path) for path in outputs.values())
    for a, b in zip(cached.network.layers, plain.network.layers, strict=True):
        for (field, left), (_, right) in zip(layer_tensors(a), layer_tensors(b), strict=True):
            np.testing.assert_allclose(
                to_float32(left), to_float32(right), atol=1e-6, err_msg=f"{a.name}.{field}"
            )


def test_token_ids_reach_a_frozen_embedding_front_as_integers() -> None:
    """A text classifier trained head-only: int64 token ids feed the cached embedding front."""
    builder = NetworkBuilder(class_labels=LABELS, seed=3)
    builder.add_input("tokens", [6], dtype="int64")
    builder.add_embedding("embed", "tokens", 20, 4)
    classifier_head(
        builder, "embed", 3, optimizer=AdamParams(lr=0.05, batch=4), epochs=3, allowed_epochs=(1, 10)
    )
    builder.set_shuffle(True)
    rng = np.random.default_rng(4)
    data = {"tokens": rng.integers(0, 20, size=(30, 6)), "label": rng.choice(LABELS, 30)}
    plain = Trainer.from_spec(builder.spec, feature_cache=False)
    cached = Trainer.from_spec(builder.spec)
    plain_result, cached_result = plain.train(data), cached.train(data)
    assert cached.feature_cache_note.startswith("on: 2 frozen layers run once per example")
    assert_same(plain.parameters(), cached.parameters())
    np.testing.assert_allclose(plain_result.epoch_losses, cached_result.epoch_losses, rtol=1e-6)
    with pytest.raises(mlspec.MlspecError, match="'tokens' has dtype float64, expected an integer dtype"):
        cached.train({**data, "tokens": data["tokens"].astype(np.float64)})
    plain.close()
    cached.close()
