"""Image inputs at run time: pixels of any size, layout and colour become the declared tensor the
same way for arrays, providers and image folders, in training, evaluation and prediction; each
check is against the numpy formula of mlspec.spec.images (pixel * scale + bias per channel)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image

from mlspec._proto import model_pb2
from mlspec.builder import NetworkBuilder, SgdParams
from mlspec.reference import evaluate
from mlspec.runtime import Trainer
from mlspec.runtime.data import DataError
from tests.support.heads import classifier_head

WIDTH, HEIGHT = 6, 5
BIAS = np.array([-0.5, -0.25, 0.125], np.float32)
LUMA = np.array([0.299, 0.587, 0.114])


def image_model(color_space: str = "bgr", *, seed: int = 0) -> model_pb2.Model:
    builder = NetworkBuilder(class_labels=["a", "b", "c"], seed=seed)
    bias = BIAS.tolist() if color_space != "gray" else [-0.5]
    builder.add_image_input("image", WIDTH, HEIGHT, color_space=color_space, scale=1 / 255, bias=bias)
    builder.add_convolution("conv", "image", 4, (3, 3), padding="same")
    builder.add_activation("relu", "conv", "relu")
    optimizer = SgdParams(lr=0.05, batch=4)
    classifier_head(
        builder, "relu", 3, train=("conv", "fc"), optimizer=optimizer, epochs=2, allowed_epochs=(1, 5)
    )
    builder.set_shuffle(False)
    return builder.spec


def random_pixels(
    count: int, seed: int = 0, size: tuple[int, int] = (HEIGHT, WIDTH)
) -> npt.NDArray[np.uint8]:
    return np.random.default_rng(seed).integers(0, 256, (count, *size, 3), dtype=np.uint8)


def _bgr_tensor(rgb: npt.NDArray[np.generic]) -> npt.NDArray[np.float32]:
    """The declared tensor by the formula: BGR channels first, pixel / 255 + bias."""
    bgr = rgb.astype(np.float64).transpose(0, 3, 1, 2)[:, ::-1]
    return (bgr / 255 + BIAS.astype(np.float64)[None, :, None, None]).astype(np.float32)


def test_prediction_on_pixels_equals_the_reference_on_the_preprocessed_tensor() -> None:
    spec = image_model()
    rgb = random_pixels(7)
    expected = evaluate(spec, {"image": _bgr_tensor(rgb)})["probs"]
    with Trainer.from_spec(spec) as trainer:
        for pixels in (rgb, rgb.astype(np.float32), rgb.astype(np.float64)):
            np.testing.assert_allclose(trainer.predict({"image": pixels})["probs"], expected, atol=1e-6)
        # An array already laid out as the network reads it: [N, C, H, W] in BGR order, raw pixels.
        chw = rgb.transpose(0, 3, 1, 2)[:, ::-1]
        np.testing.assert_allclose(trainer.predict({"image": chw})["probs"], expected, atol=1e-6)


def test_training_and_evaluation_see_the_same_tensor_as_prediction() -> None:
    rgb, labels = random_pixels(8, seed=1), np.array(list("abcabcab"))
    with Trainer.from_spec(image_model()) as trainer:
        before = trainer.evaluate({"image": rgb, "label": labels})
        probs = evaluate(image_model(), {"image": _bgr_tensor(rgb)})["probs"].astype(np.float64)
        indices = np.array(["abc".index(label) for label in labels])
        assert before.loss == pytest.approx(-np.log(probs[np.arange(8), indices]).mean(), rel=1e-5)
        trainer.train({"image": rgb, "label": labels})
        trained = trainer.parameters()
    # The same network with a plain tensor input, trained on the tensor the formula gives.
    twin = image_model()
    for feature in (*twin.description.inputs, *twin.description.training_inputs):
        feature.ClearField("image")
    with Trainer.from_spec(twin) as plain:
        plain.train({"image": _bgr_tensor(rgb), "label": labels})
        for name, value in plain.parameters().items():
            np.testing.assert_allclose(trained[name], value, atol=1e-6, err_msg=name)


def test_images_of_another_size_are_resized_and_gray_is_luma() -> None:
    spec = image_model("gray")
    with Trainer.from_spec(spec) as trainer:
        # A uniform image stays uniform through any bilinear resize.
        flat = np.full((2, 17, 23, 3), [200, 40, 90], np.uint8)
        gray = (LUMA @ [200, 40, 90]) / 255 - 0.5
        expected = evaluate(spec, {"image": np.full((2, 1, HEIGHT, WIDTH), gray, np.float32)})["probs"]
        np.testing.assert_allclose(trainer.predict({"image": flat})["probs"], expected, atol=1e-5)
        # Pixels of the declared size: RGB -> gray by ITU-R 601-2 luma, then the scaler.
        rgb = random_pixels(3, seed=2)
        luma = (rgb.astype(np.float64) @ LUMA)[:, None] / 255 - 0.5
        expected = evaluate(spec, {"image": luma.astype(np.float32)})["probs"]
        np.testing.assert_allclose(trainer.predict({"image": rgb})["probs"], expected, atol=1e-5)
        # A batch provider may hand out images of different sizes; each is fitted on its own.
        mixed = [{"image": random_pixels(1, seed=3, size=size)[0], "label": "a"} for size in ((5, 6), (9, 4))]
        assert trainer.evaluate(mixed).count == 2


def test_an_image_folder_reaches_the_network_as_pixel_arrays_do(tmp_path: Path) -> None:
    rgb = random_pixels(4, seed=4)
    for index, pixels in enumerate(rgb):
        folder = tmp_path / "abc"[index % 3]
        folder.mkdir(exist_ok=True)
        Image.fromarray(pixels).save(folder / f"{index}.png")
    Image.fromarray(random_pixels(1, seed=5, size=(10, 12))[0]).save(tmp_path / "a" / "big.png")
    with Trainer.from_spec(image_model()) as trainer:
        from_folder = trainer.predict(tmp_path)["probs"]
        ordered = [path for name in "abc" for path in sorted((tmp_path / name).iterdir())]
        arrays = [np.asarray(Image.open(path).convert("RGB")) for path in ordered]
        expected = np.concatenate([trainer.predict({"image": a[np.newaxis]})["probs"] for a in arrays])
        np.testing.assert_allclose(from_folder, expected, atol=1e-6)


def test_bad_pixels_are_refused_naming_the_feature_and_row() -> None:
    with Trainer.from_spec(image_model()) as trainer:
        bad = random_pixels(3).astype(np.float32)
        bad[2, 1, 1, 0] = np.nan
        with pytest.raises(DataError, match=r"'image' row 2 holds NaN or Inf; pixels must be finite"):
            trainer.predict({"image": bad})
        with pytest.raises(DataError, match=r"'image' has dtype bool; an image input takes pixel values"):
            trainer.predict({"image": np.zeros((1, HEIGHT, WIDTH, 3), bool)})
        with pytest.raises(DataError, match=r"per-example shape \(5, 6, 4\); an image input takes pixels"):
            trainer.predict({"image": np.zeros((1, HEIGHT, WIDTH, 4), np.uint8)})
