"""Seeded augmentation of image inputs in training batches (the spec's update_parameters.augmentation).

The changes are made to the tensor the network reads, where an image input's preprocessing
(value = pixel * scale + bias per channel) has already been applied; each one is stated on
pixels and carried through that affine map, so it equals augmenting the pixels first: brightness
multiplies pixels, (value - bias) * factor + bias; black pixels, which fill what a rotation or
shift uncovers, are value = bias. Evaluation and prediction never augment.

Every draw comes from generators seeded with (seed, epoch, batch), one per setting, so a run
repeats exactly, a resumed run continues as an uninterrupted one would without storing generator
state, and turning one setting on leaves the draws of the others unchanged. Per image the
changes are applied in the order of the spec's fields: brightness, flip, rotation, crop.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from mlspec.spec.images import ImageInput

Array = npt.NDArray[np.generic]
# The augmentation of one training batch: (feeds, epoch, batch index) -> feeds.
Augmenter = Callable[[dict[str, Array], int, int], dict[str, Array]]
_STREAMS = {"brightness": 1, "flip": 2, "rotation": 3, "crop": 4}


@dataclass(frozen=True)
class Augmentation:
    """The spec's augmentation settings; all off by default."""

    brightness: float = 0.0
    horizontal_flip: bool = False
    max_rotation_degrees: float = 0.0
    crop_padding: int = 0

    @property
    def active(self) -> bool:
        return bool(self.brightness or self.horizontal_flip or self.max_rotation_degrees or self.crop_padding)

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Augmentation:
        return cls(**data) if data else cls()


def augment_batch(
    feeds: Mapping[str, Array],
    images: Mapping[str, ImageInput],
    augmentation: Augmentation,
    *,
    seed: int,
    epoch: int,
    batch: int,
) -> dict[str, Array]:
    """The batch with every image input augmented; other feeds are passed through unchanged."""
    result = dict(feeds)
    for name, image in images.items():
        if name in feeds:
            values = np.asarray(feeds[name], dtype=np.float32)
            result[name] = augment_images(values, image, augmentation, _streams(seed, epoch, batch))
    return result


def augment_images(
    values: npt.NDArray[np.float32],
    image: ImageInput,
    augmentation: Augmentation,
    streams: Mapping[str, np.random.Generator],
) -> npt.NDArray[np.float32]:
    """[N, C, H, W] preprocessed images, each changed by its own draws."""
    count = len(values)
    bias = np.asarray(image.bias, np.float32).reshape(1, -1, 1, 1)
    out = values.copy()
    if augmentation.brightness:
        low, high = 1 - augmentation.brightness, 1 + augmentation.brightness
        factors = streams["brightness"].uniform(low, high, count).astype(np.float32).reshape(-1, 1, 1, 1)
        out = (out - bias) * factors + bias
    if augmentation.horizontal_flip:
        flips = streams["flip"].random(count) < 0.5
        out[flips] = out[flips][..., ::-1]
    if augmentation.max_rotation_degrees:
        limit = augmentation.max_rotation_degrees
        angles = streams["rotation"].uniform(-limit, limit, count)
        out = np.stack([_rotate(one, angle, bias[0]) for one, angle in zip(out, angles, strict=True)])
    if augmentation.crop_padding:
        pad = augmentation.crop_padding
        offsets = streams["crop"].integers(0, 2 * pad + 1, (count, 2))
        out = np.stack(
            [
                _shift(one, int(dy) - pad, int(dx) - pad, bias[0])
                for one, (dy, dx) in zip(out, offsets, strict=True)
            ]
        )
    return np.ascontiguousarray(out, dtype=np.float32)


def _streams(seed: int, epoch: int, batch: int) -> dict[str, np.random.Generator]:
    """One generator per setting, so turning one on leaves the others' draws as they were."""
    key = [seed & 0xFFFFFFFFFFFFFFFF, epoch, batch]
    return {name: np.random.default_rng([*key, stream]) for name, stream in _STREAMS.items()}


def _rotate(
    chw: npt.NDArray[np.float32], degrees: float, fill: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """Rotate counter-clockwise about the centre; each output pixel takes its nearest source pixel."""
    _, height, width = chw.shape
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float64)
    cy, cx = (height - 1) / 2, (width - 1) / 2
    cos, sin = math.cos(math.radians(degrees)), math.sin(math.radians(degrees))
    # Inverse map: the source of output (y, x) is the point rotated back by -degrees.
    source_x = cos * (xs - cx) - sin * (ys - cy) + cx
    source_y = sin * (xs - cx) + cos * (ys - cy) + cy
    sx, sy = np.rint(source_x).astype(np.int64), np.rint(source_y).astype(np.int64)
    inside = (sx >= 0) & (sx < width) & (sy >= 0) & (sy < height)
    out = np.broadcast_to(fill, chw.shape).copy()
    out[:, inside] = chw[:, sy[inside], sx[inside]]
    return out


def _shift(
    chw: npt.NDArray[np.float32], dy: int, dx: int, fill: npt.NDArray[np.float32]
) -> npt.NDArray[np.float32]:
    """Crop of the padded image at offset (pad + dy, pad + dx): content moves by (-dy, -dx)."""
    _, height, width = chw.shape
    out = np.broadcast_to(fill, chw.shape).copy()
    src_y, dst_y = slice(max(dy, 0), height + min(dy, 0)), slice(max(-dy, 0), height + min(-dy, 0))
    src_x, dst_x = slice(max(dx, 0), width + min(dx, 0)), slice(max(-dx, 0), width + min(-dx, 0))
    out[:, dst_y, dst_x] = chw[:, src_y, src_x]
    return out
