"""Digit glyphs in the style of Apple's BNNS training sample, placed at random in a grid.

Each digit is a 6x6 bitmap drawn in a 4-wide, 5-high box (as the sample's "three" is). Several
digits differ from another by a pixel or two (6, 8 and 9; 3 and 9; 0 and 8), so telling them
apart wherever they land is a real, if small, learning problem rather than a lookup.

Everything here is a pure function of a numpy Generator, so a seed reproduces a data set and a
stream of fresh examples never repeats one unless asked to.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import numpy.typing as npt

from mlspec.spec.errors import MlspecError

GLYPH_SIZE = 6


class DatasetError(MlspecError):
    """A data set was asked for something it cannot give (an unknown digit, a too-small grid)."""


_ART = {
    0: (".####.", ".#..#.", ".#..#.", ".#..#.", ".####.", "......"),
    1: ("...#..", "..##..", "...#..", "...#..", "..###.", "......"),
    2: (".####.", "....#.", ".####.", ".#....", ".####.", "......"),
    3: (".####.", "....#.", ".####.", "....#.", ".####.", "......"),
    4: (".#..#.", ".#..#.", ".####.", "....#.", "....#.", "......"),
    5: (".####.", ".#....", ".####.", "....#.", ".####.", "......"),
    6: (".####.", ".#....", ".####.", ".#..#.", ".####.", "......"),
    7: (".####.", "....#.", "...#..", "..#...", "..#...", "......"),
    8: (".####.", ".#..#.", ".####.", ".#..#.", ".####.", "......"),
    9: (".####.", ".#..#.", ".####.", "....#.", ".####.", "......"),
}


def _bitmap(rows: Sequence[str]) -> npt.NDArray[np.float32]:
    return np.array([[1.0 if cell == "#" else 0.0 for cell in row] for row in rows], dtype=np.float32)


DIGIT_GLYPHS: Mapping[int, npt.NDArray[np.float32]] = {digit: _bitmap(art) for digit, art in _ART.items()}
"""Digit -> its 6x6 float32 bitmap (1 = ink)."""


def draw_glyphs(
    digits: npt.ArrayLike,
    rng: np.random.Generator,
    *,
    grid: int = 20,
    noise: float = 0.0,
) -> npt.NDArray[np.float32]:
    """Images [N, 1, grid, grid]: each digit's glyph at a uniformly random position.

    `noise` adds N(0, noise) to every pixel, which keeps a network from keying on exact zeros.
    """
    chosen = np.asarray(digits, dtype=np.int64).reshape(-1)
    if grid < GLYPH_SIZE:
        raise DatasetError(f"grid={grid} is smaller than a {GLYPH_SIZE}x{GLYPH_SIZE} glyph")
    unknown = sorted(set(chosen.tolist()) - set(DIGIT_GLYPHS))
    if unknown:
        raise DatasetError(f"no glyph for digit(s) {unknown}; digits are 0..9")
    images = np.zeros((len(chosen), 1, grid, grid), dtype=np.float32)
    span = grid - GLYPH_SIZE + 1
    rows = rng.integers(0, span, len(chosen))
    cols = rng.integers(0, span, len(chosen))
    for index, (digit, row, col) in enumerate(
        zip(chosen.tolist(), rows.tolist(), cols.tolist(), strict=True)
    ):
        images[index, 0, row : row + GLYPH_SIZE, col : col + GLYPH_SIZE] = DIGIT_GLYPHS[digit]
    if noise:
        images += rng.normal(0.0, noise, images.shape).astype(np.float32)
    return images


def glyph_batch(
    count: int,
    rng: np.random.Generator,
    *,
    digits: Sequence[int] = tuple(range(10)),
    grid: int = 20,
    noise: float = 0.0,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    """`count` random digits drawn from `digits`: (images [N, 1, grid, grid], digits [N])."""
    labels = rng.choice(np.asarray(digits, dtype=np.int64), size=count)
    return draw_glyphs(labels, rng, grid=grid, noise=noise), labels


class GlyphStream:
    """A batch provider of fresh random digits: every call to `example` draws a new one.

    This is the BNNS sample's data: no fixed training set, a new random digit at a new place
    for every example of every iteration. `len` only sets how many examples make an epoch.
    `image` and `label` name the features the model's training inputs expect.
    """

    def __init__(
        self,
        length: int,
        *,
        seed: int = 0,
        grid: int = 20,
        digits: Sequence[int] = tuple(range(10)),
        image: str = "image",
        label: str = "label",
    ) -> None:
        self._length = length
        self._rng = np.random.default_rng(seed)
        self._grid = grid
        self._digits = np.asarray(digits, dtype=np.int64)
        self._image, self._label = image, label

    def __len__(self) -> int:
        return self._length

    def example(self, index: int) -> dict[str, npt.NDArray[np.generic]]:
        digit = self._rng.choice(self._digits)
        image = draw_glyphs([digit], self._rng, grid=self._grid)[0]
        return {self._image: image, self._label: np.asarray(digit, dtype=np.int64)}
