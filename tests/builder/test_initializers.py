"""Initialisers: the documented bounds and spreads, seeding, and the defaults of add_*."""

from __future__ import annotations

import math

import numpy as np
import pytest

from mlspec import MlspecError
from mlspec.builder import NetworkBuilder, constant
from mlspec.builder.initializers import Initializer, as_initializer, fans, layer_rng
from tests.builder.networks import tensor


def _draw(name: str, shape: tuple[int, ...], seed: int = 1) -> np.ndarray:
    fan_in, fan_out = fans(shape)
    return as_initializer(name).weights(shape, fan_in, fan_out, np.random.default_rng(seed))


def test_fans_follow_pytorch_for_dense_and_convolution() -> None:
    assert fans((10, 1000)) == (1000, 10)
    assert fans((16, 3, 5, 5)) == (3 * 25, 16 * 25)
    assert fans((8, 4, 3)) == (12, 24)


def test_dense_kaiming_uniform_uses_the_recipe_bounds() -> None:
    builder = NetworkBuilder()
    builder.add_input("x", (1000,))
    builder.add_inner_product("fc", "x", 64)
    w = tensor(builder.spec, "fc", "weights")
    b = tensor(builder.spec, "fc", "bias")
    weight_bound, bias_bound = math.sqrt(6 / 1000), 1 / math.sqrt(1000)
    assert w.dtype == np.float32 and w.shape == (64, 1000)
    assert np.abs(w).max() <= weight_bound
    # A uniform draw of 64,000 values reaches close to both ends and has variance bound^2 / 3.
    assert w.max() > 0.99 * weight_bound and w.min() < -0.99 * weight_bound
    assert w.var() == pytest.approx(weight_bound**2 / 3, rel=0.03)
    assert np.abs(b).max() <= bias_bound and np.abs(b).max() > 0.5 * bias_bound


@pytest.mark.parametrize(
    ("name", "std"),
    [
        ("kaiming_normal", math.sqrt(2 / 300)),
        ("xavier_normal", math.sqrt(2 / (300 + 200))),
    ],
)
def test_normal_initialisers_have_the_documented_spread(name: str, std: float) -> None:
    w = _draw(name, (200, 300))
    assert w.mean() == pytest.approx(0.0, abs=4 * std / math.sqrt(w.size))
    assert w.std() == pytest.approx(std, rel=0.02)


def test_xavier_uniform_bound_counts_both_fans() -> None:
    w = _draw("xavier_uniform", (200, 300))
    bound = math.sqrt(6 / 500)
    assert np.abs(w).max() <= bound
    assert w.var() == pytest.approx(bound**2 / 3, rel=0.03)


def test_zeros_constant_and_bias_rules() -> None:
    rng = np.random.default_rng(0)
    assert not _draw("zeros", (3, 4)).any()
    assert np.all(constant(0.25).weights((3, 4), 4, 3, rng) == np.float32(0.25))
    assert np.all(constant(0.25).bias((3,), 4, rng) == np.float32(0.25))
    for name in ("kaiming_normal", "xavier_uniform", "xavier_normal", "zeros"):
        assert not as_initializer(name).bias((5,), 4, rng).any(), name


def test_unknown_initialiser_names_the_choices() -> None:
    with pytest.raises(MlspecError, match="kaiming_uniform"):
        as_initializer("he_magic")
    with pytest.raises(MlspecError, match="xavier_normal"):
        Initializer("nope")  # type: ignore[arg-type]  # a name outside the Literal, on purpose


def test_same_seed_same_bytes_and_order_does_not_matter() -> None:
    def build(order: list[str], seed: int) -> NetworkBuilder:
        builder = NetworkBuilder(seed=seed)
        builder.add_input("x", (5,))
        for name in order:
            builder.add_inner_product(name, "x", 3, init="xavier_uniform")
        return builder

    first = build(["a", "b"], seed=7).spec
    again = build(["b", "a"], seed=7).spec
    other = build(["a", "b"], seed=8).spec
    for name in ("a", "b"):
        assert tensor(first, name, "weights").tobytes() == tensor(again, name, "weights").tobytes()
        assert tensor(first, name, "weights").tobytes() != tensor(other, name, "weights").tobytes()
    assert tensor(first, "a", "weights").tobytes() != tensor(first, "b", "weights").tobytes()


def test_per_call_seed_overrides_the_builder_seed() -> None:
    builder = NetworkBuilder(seed=1)
    builder.add_input("x", (5,))
    builder.add_inner_product("a", "x", 3, seed=42)
    expected = layer_rng(42, "a").uniform(-math.sqrt(6 / 5), math.sqrt(6 / 5), size=(3, 5)).astype(np.float32)
    assert np.array_equal(tensor(builder.spec, "a", "weights"), expected)


def test_defaults_for_convolution_embedding_and_normalisers() -> None:
    builder = NetworkBuilder()
    builder.add_input("image", (3, 8, 8))
    builder.add_convolution("conv", "image", 4, (3, 3))
    builder.add_batch_norm("bn", "conv")
    builder.add_input("tokens", (6,), dtype="int64")
    builder.add_embedding("embed", "tokens", vocab_size=50, embedding_dim=40)
    builder.add_layer_norm("ln", "embed")
    model = builder.spec
    assert np.abs(tensor(model, "conv", "weights")).max() <= math.sqrt(6 / 27)
    assert np.abs(tensor(model, "conv", "bias")).max() <= 1 / math.sqrt(27)
    embedding = tensor(model, "embed", "weights")
    assert embedding.std() == pytest.approx(1.0, rel=0.1)
    assert np.all(tensor(model, "bn", "gamma") == 1) and not tensor(model, "bn", "beta").any()
    assert not tensor(model, "bn", "running_mean").any()
    assert np.all(tensor(model, "bn", "running_variance") == 1)
    assert np.all(tensor(model, "ln", "gamma") == 1) and not tensor(model, "ln", "beta").any()
