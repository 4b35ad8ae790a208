"""Seeded weight initialisers for new layers, re-initialisation and the rows added by widening.

Every initialiser is a pure function of (shape, fan_in, fan_out, random generator), so that the
same seed always gives the same bytes and widening can draw only the new rows with the fans of
the whole layer.

Formulas (fan_in / fan_out follow PyTorch: for a weight [out, in, *kernel], fan_in is
in * prod(kernel) and fan_out is out * prod(kernel)):

- ``kaiming_uniform``: weights U(-sqrt(6 / fan_in), +sqrt(6 / fan_in)) and bias
  U(-1 / sqrt(fan_in), +1 / sqrt(fan_in)). This is He initialisation with gain sqrt(2), the form
  the Core ML personalisation recipe uses. PyTorch's default for nn.Linear is narrower (its
  a=sqrt(5) gives a weight bound of 1 / sqrt(fan_in)); mlspec follows the recipe on purpose.
- ``kaiming_normal``: weights N(0, sqrt(2 / fan_in)), bias zero.
- ``xavier_uniform``: weights U(-sqrt(6 / (fan_in + fan_out)), +...), bias zero.
- ``xavier_normal``: weights N(0, sqrt(2 / (fan_in + fan_out))), bias zero.
- ``normal``: weights N(0, std) (std defaults to 1, as nn.Embedding does), bias zero.
- ``zeros``: everything zero (the recipe's choice for the rows of new classes).
- ``constant``: everything equal to ``value``.

Defaults when a layer is added without weights: dense and convolution use ``kaiming_uniform``,
embeddings use ``normal`` with std 1; normalisation layers start at gamma 1, beta 0, running
mean 0 and running variance 1.

Seeds: a layer's generator is seeded with (seed, crc32 of the layer name), so the weights a
layer receives do not depend on the order in which other layers were added.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt

from mlspec.spec.errors import MlspecError

InitName = Literal[
    "kaiming_uniform", "kaiming_normal", "xavier_uniform", "xavier_normal", "normal", "zeros", "constant"
]
INIT_NAMES: tuple[str, ...] = get_args(InitName)
FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class Initializer:
    """An initialiser by name with its one optional number (constant value or normal std)."""

    name: InitName
    value: float | None = None

    def __post_init__(self) -> None:
        if self.name not in INIT_NAMES:
            raise MlspecError(f"unknown initialiser {self.name!r}; use one of {', '.join(INIT_NAMES)}")

    def weights(
        self, shape: tuple[int, ...], fan_in: int, fan_out: int, rng: np.random.Generator
    ) -> FloatArray:
        fan_in, fan_out = max(fan_in, 1), max(fan_out, 1)
        if self.name == "kaiming_uniform":
            return _uniform(rng, shape, math.sqrt(6.0 / fan_in))
        if self.name == "kaiming_normal":
            return _normal(rng, shape, math.sqrt(2.0 / fan_in))
        if self.name == "xavier_uniform":
            return _uniform(rng, shape, math.sqrt(6.0 / (fan_in + fan_out)))
        if self.name == "xavier_normal":
            return _normal(rng, shape, math.sqrt(2.0 / (fan_in + fan_out)))
        if self.name == "normal":
            return _normal(rng, shape, 1.0 if self.value is None else self.value)
        return np.full(shape, self._constant(), dtype=np.float32)

    def bias(self, shape: tuple[int, ...], fan_in: int, rng: np.random.Generator) -> FloatArray:
        if self.name == "kaiming_uniform":
            return _uniform(rng, shape, 1.0 / math.sqrt(max(fan_in, 1)))
        return np.full(shape, self._constant(), dtype=np.float32)

    def _constant(self) -> float:
        return float(self.value or 0.0) if self.name == "constant" else 0.0


InitLike = InitName | Initializer


def constant(value: float) -> Initializer:
    return Initializer("constant", value)


def normal(std: float = 1.0) -> Initializer:
    return Initializer("normal", std)


def as_initializer(init: InitLike | str) -> Initializer:
    if isinstance(init, Initializer):
        return init
    if init not in INIT_NAMES:
        raise MlspecError(f"unknown initialiser {init!r}; use one of {', '.join(INIT_NAMES)}")
    return Initializer(init)  # type: ignore[arg-type]


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight [out, in, *kernel], as PyTorch computes them."""
    if len(shape) < 2:
        size = shape[0] if shape else 1
        return size, size
    receptive = math.prod(shape[2:])
    return shape[1] * receptive, shape[0] * receptive


def layer_rng(seed: int, layer_name: str) -> np.random.Generator:
    return np.random.default_rng([seed & 0xFFFFFFFF, zlib.crc32(layer_name.encode("utf-8"))])


def _uniform(rng: np.random.Generator, shape: tuple[int, ...], bound: float) -> FloatArray:
    return rng.uniform(-bound, bound, size=shape).astype(np.float32)


def _normal(rng: np.random.Generator, shape: tuple[int, ...], std: float) -> FloatArray:
    return rng.normal(0.0, std, size=shape).astype(np.float32)
