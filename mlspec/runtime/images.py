"""A folder of images with one subfolder per class label, read like torchvision's ImageFolder.

Only the file list is built up front; each image is decoded (through Pillow) when its mini-batch
is built, so memory holds one batch of images at a time. For an input the spec declares an image
(mlspec.spec.images), each file is decoded to its pixels (gray files as gray, others as RGB),
which mlspec.runtime.pixels turns into the input's tensor exactly as it does pixel arrays: resized,
converted to the colour space, preprocessed. For a plain tensor input an image of any size and
mode is converted to gray or RGB by the input's channel count, resized (bilinear) to the input's
height and width, scaled from 0..255 to 0..1 and laid out as the input is shaped: (channels,
height, width), (height, width, channels) or (height, width).

A folder holding images directly (no class subfolders) is unlabelled, which serves prediction.
Files are never followed outside the folder (a symlink pointing out is refused), and an image
whose header declares more than MAX_PIXELS pixels is refused before it is decoded.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from mlspec.runtime.data_error import DataError
from mlspec.runtime.features import FeatureSpec
from mlspec.runtime.pixels import pillow_image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp")
FORMATS = ("PNG", "JPEG", "BMP")
MAX_PIXELS = 40_000_000
_GRAY_MODES = ("1", "L", "LA", "I", "I;16", "F")
Layout = Literal["chw", "hwc", "hw"]


class ImageFolder:
    """A batch provider (`len` and `example(index)`) over the images of `root`."""

    def __init__(self, root: Path, features: Sequence[FeatureSpec]) -> None:
        self.root = root
        self._real_root = root.resolve()
        inputs = [f for f in features if f.role == "input"]
        targets = [f for f in features if f.role == "target"]
        if len(inputs) != 1 or len(targets) > 1:
            names = ", ".join(f.name for f in features)
            raise DataError(
                f"{root}: an image folder feeds a model with one image input and at most one label; "
                f"this one takes {names}"
            )
        self.image = inputs[0]
        self.target = targets[0] if targets else None
        self.layout, self.channels, self.height, self.width = _layout(root, self.image)
        self.files, self.labels = self._listing()

    def __len__(self) -> int:
        return len(self.files)

    def example(self, index: int) -> dict[str, npt.ArrayLike]:
        path = self.files[index]
        example: dict[str, npt.ArrayLike] = {self.image.name: self.load(path)}
        label = self.labels[index]
        if self.target is not None and label is not None:
            example[self.target.name] = self._label(label, path)
        return example

    def load(self, path: Path) -> npt.NDArray[np.generic]:
        """One image, without the batch axis: as the input's tensor, or for an image input
        (mlspec.spec.images) as uint8 pixels, which the data path turns into its tensor."""
        image_module = pillow_image()
        declared = self.image.image
        try:
            with image_module.open(path, formats=list(FORMATS)) as image:
                width, height = image.size
                if width * height > MAX_PIXELS:
                    raise DataError(
                        f"{path}: {width}x{height} pixels is more than the {MAX_PIXELS} an image may have"
                    )
                if declared is not None:
                    return np.asarray(image.convert("L" if image.mode in _GRAY_MODES else "RGB"))
                converted = image.convert("L" if self.channels == 1 else "RGB")
                if converted.size != (self.width, self.height):
                    converted = converted.resize((self.width, self.height), image_module.Resampling.BILINEAR)
                pixels = np.asarray(converted, dtype=np.float32) / np.float32(255.0)
        except (OSError, ValueError, image_module.DecompressionBombError) as exc:
            raise DataError(f"{path}: not a readable PNG, JPEG or BMP image ({exc})") from exc
        if self.layout == "hw":
            return pixels
        if pixels.ndim == 2:
            pixels = pixels[:, :, np.newaxis]
        return np.ascontiguousarray(pixels.transpose(2, 0, 1)) if self.layout == "chw" else pixels

    def _label(self, name: str, path: Path) -> str | int:
        target = self.target
        if target is not None and target.labels is not None and isinstance(target.labels[0], str):
            return name
        try:
            return int(name)
        except ValueError:
            raise DataError(
                f"{path.parent}: folder name {name!r} is not a whole number; this model's class labels "
                "are integers, so name the class folders by them"
            ) from None

    def _listing(self) -> tuple[list[Path], list[str | None]]:
        entries = sorted(p for p in self.root.iterdir() if not p.name.startswith("."))
        folders = [p for p in entries if p.is_dir()]
        files: list[Path] = []
        labels: list[str | None] = []
        if not folders:
            images = self._images(self.root)
            return images, [None] * len(images)
        for folder in folders:
            images = self._images(folder)
            if not images:
                raise DataError(f"{folder}: class folder holds no {'/'.join(IMAGE_SUFFIXES)} images")
            files.extend(images)
            labels.extend([folder.name] * len(images))
        return files, labels

    def _images(self, folder: Path) -> list[Path]:
        found = []
        for path in sorted(folder.iterdir()):
            if path.name.startswith(".") or path.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            real = path.resolve()
            if not real.is_relative_to(self._real_root) or not real.is_file():
                raise DataError(f"{path}: not a regular file inside {self.root}; refusing to read it")
            found.append(path)
        if folder == self.root and not found:
            raise DataError(
                f"{self.root}: no images; give one subfolder per class label holding "
                f"{', '.join(IMAGE_SUFFIXES)} files"
            )
        return found


def _layout(root: Path, feature: FeatureSpec) -> tuple[Layout, int, int, int]:
    shape = feature.example_shape
    if None not in shape:
        if len(shape) == 3 and shape[0] in (1, 3):
            return "chw", int(shape[0] or 0), int(shape[1] or 0), int(shape[2] or 0)
        if len(shape) == 3 and shape[2] in (1, 3):
            return "hwc", int(shape[2] or 0), int(shape[0] or 0), int(shape[1] or 0)
        if len(shape) == 2:
            return "hw", 1, int(shape[0] or 0), int(shape[1] or 0)
    raise DataError(
        f"{root}: input {feature.name!r} has per-example shape {shape}; images need an input shaped "
        "(channels, height, width), (height, width, channels) or (height, width), with 1 or 3 channels"
    )
