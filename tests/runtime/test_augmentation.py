"""Augmentation: each change, made on the preprocessed tensor, equals the change made on pixels
(written here with numpy: pad and crop, mirror, rot90, multiply) followed by the preprocessing;
runs repeat with the seed; only training is augmented; bad settings are refused by name."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest

from mlspec._proto import model_pb2
from mlspec.builder import NetworkBuilder
from mlspec.runtime import Trainer
from mlspec.runtime.augment import Augmentation, _rotate, augment_images
from mlspec.spec.errors import SpecEditError
from mlspec.spec.images import ImageInput
from tests.runtime.test_image_inputs import image_model, random_pixels

IMAGE = ImageInput(6, 5, "rgb", (1 / 255,) * 3, (-0.5, -0.25, 0.125))


def _pre(pixels: npt.NDArray[np.float64]) -> npt.NDArray[np.float32]:
    """[N, C, H, W] pixels through the image's preprocessing, by its formula."""
    scale = np.asarray(IMAGE.scale).reshape(1, -1, 1, 1)
    bias = np.asarray(IMAGE.bias).reshape(1, -1, 1, 1)
    scaled: npt.NDArray[np.float64] = pixels * scale + bias
    return scaled.astype(np.float32)


def _batch(count: int = 6) -> npt.NDArray[np.float64]:
    return random_pixels(count, seed=7).transpose(0, 3, 1, 2).astype(np.float64)


def test_crop_with_padding_is_torchvisions_random_crop_on_pixels() -> None:
    pixels, pad = _batch(), 2
    got = augment_images(
        _pre(pixels), IMAGE, Augmentation(crop_padding=pad), {"crop": np.random.default_rng(5)}
    )
    offsets = np.random.default_rng(5).integers(0, 2 * pad + 1, (len(pixels), 2))
    padded = np.pad(pixels, ((0, 0), (0, 0), (pad, pad), (pad, pad)))  # black borders
    crops = np.stack([padded[i, :, y : y + 5, x : x + 6] for i, (y, x) in enumerate(offsets)])
    np.testing.assert_allclose(got, _pre(crops), atol=1e-6)


def test_flip_and_brightness_equal_their_pixel_forms() -> None:
    pixels = _batch()
    flipped = augment_images(
        _pre(pixels), IMAGE, Augmentation(horizontal_flip=True), {"flip": np.random.default_rng(1)}
    )
    chosen = np.random.default_rng(1).random(len(pixels)) < 0.5
    assert 0 < chosen.sum() < len(pixels)
    expected = np.where(chosen[:, None, None, None], pixels[..., ::-1], pixels)
    np.testing.assert_allclose(flipped, _pre(expected), atol=1e-6)
    brighter = augment_images(
        _pre(pixels), IMAGE, Augmentation(brightness=0.3), {"brightness": np.random.default_rng(2)}
    )
    factors = np.random.default_rng(2).uniform(0.7, 1.3, len(pixels))
    np.testing.assert_allclose(brighter, _pre(pixels * factors[:, None, None, None]), atol=1e-5)


def test_rotation_about_the_centre_with_black_corners() -> None:
    square = _pre(random_pixels(1, seed=8, size=(5, 5)).transpose(0, 3, 1, 2).astype(np.float64))[0]
    fill = np.asarray(IMAGE.bias, np.float32).reshape(-1, 1, 1)
    np.testing.assert_array_equal(_rotate(square, 90.0, fill), np.rot90(square, 1, axes=(1, 2)))
    np.testing.assert_array_equal(_rotate(square, 0.0, fill), square)
    turned = _rotate(square, 45.0, fill)
    np.testing.assert_array_equal(turned[:, 0, 0], fill[:, 0, 0])  # a corner comes from outside: black
    np.testing.assert_array_equal(turned[:, 2, 2], square[:, 2, 2])  # the centre stays


def _augmented_spec() -> model_pb2.Model:
    builder = NetworkBuilder.edit(image_model())
    builder.set_augmentation(brightness=0.2, horizontal_flip=True, max_rotation_degrees=10, crop_padding=1)
    return builder.spec


def test_runs_repeat_with_the_seed_and_only_training_is_augmented() -> None:
    rgb, labels = random_pixels(8, seed=1), np.array(list("abcabcab"))
    spec = _augmented_spec()
    runs = []
    for augment in (True, True, False):
        with Trainer.from_spec(spec) as trainer:
            before = trainer.evaluate({"image": rgb, "label": labels}).loss
            trainer.train({"image": rgb, "label": labels}, augment=augment)
            runs.append((before, trainer.parameters()))
    with Trainer.from_spec(image_model()) as plain:
        assert plain.evaluate({"image": rgb, "label": labels}).loss == runs[0][0]  # evaluation: as given
        plain.train({"image": rgb, "label": labels})
        unaugmented = plain.parameters()
    for name, value in runs[0][1].items():
        np.testing.assert_array_equal(runs[1][1][name], value)  # same seed, same draws
        np.testing.assert_array_equal(runs[2][1][name], unaugmented[name])  # augment=False
    assert any(not np.allclose(runs[0][1][name], unaugmented[name]) for name in unaugmented)


def test_bad_settings_are_refused_by_name() -> None:
    builder = NetworkBuilder.edit(image_model())
    with pytest.raises(
        SpecEditError, match=r"augmentation\.max_rotation_degrees: is 200\.0\. Fix: use 0\.\.180"
    ):
        builder.set_augmentation(max_rotation_degrees=200)
    plain = NetworkBuilder.edit(image_model())
    for feature in (*plain.spec.description.inputs, *plain.spec.description.training_inputs):
        feature.ClearField("image")
    with pytest.raises(SpecEditError, match=r"augmentation: is set, but no input is an image"):
        plain.set_augmentation(horizontal_flip=True)
