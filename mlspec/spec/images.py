"""Image inputs: the decoded view of `FeatureDescription.image`, its rules, and its preprocessing.

An image input is a float32 tensor input [batch, C, H, W] that carries how pixels become that
tensor, as Core ML's imageType with its image scaler does: the size, the colour space (gray, RGB
or BGR: the order the network reads channels in) and a per-channel affine map of pixel values
0..255, value[c] = pixel[c] * scale[c] + bias[c]. A mean and std (torchvision's Normalize after
ToTensor) are the same map with scale = 1 / (255 * std) and bias = -mean / std; `from_mean_std`
computes it, so the spec holds one form and every reader applies one formula.

The preprocessing lives in the spec, not in the network, so that the ONNX models mlspec exports
take the preprocessed tensor (and record the preprocessing in their metadata) while the runtime
applies it, identically, to training, evaluation and prediction data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlspec._proto import model_pb2, tensor_pb2
from mlspec.spec.errors import MlspecError, Problem

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

COLOR_SPACES = {
    "gray": tensor_pb2.COLOR_SPACE_GRAY,
    "rgb": tensor_pb2.COLOR_SPACE_RGB,
    "bgr": tensor_pb2.COLOR_SPACE_BGR,
}
_NAMES = {code: name for name, code in COLOR_SPACES.items()}
MAX_SIDE = 1 << 15
"""Largest width or height an image input may declare (Core ML's own limit is 16,384)."""


@dataclass(frozen=True)
class ImageInput:
    """An image input's size, colour space and per-channel preprocessing, defaults filled in."""

    width: int
    height: int
    color_space: str
    scale: tuple[float, ...]
    bias: tuple[float, ...]

    @property
    def channels(self) -> int:
        return 1 if self.color_space == "gray" else 3

    @classmethod
    def of(cls, image: tensor_pb2.ImageType) -> ImageInput:
        """The decoded view of a valid ImageType (`image_problems` says what makes one invalid)."""
        space = _NAMES.get(image.color_space, "rgb")
        channels = 1 if space == "gray" else 3
        return cls(
            width=int(image.width),
            height=int(image.height),
            color_space=space,
            scale=per_channel(image.preprocessing.scale, channels, 1.0),
            bias=per_channel(image.preprocessing.bias, channels, 0.0),
        )

    def to_proto(self) -> tensor_pb2.ImageType:
        image = tensor_pb2.ImageType(
            width=self.width, height=self.height, color_space=COLOR_SPACES[self.color_space]
        )
        image.preprocessing.scale.extend(_compact(self.scale))
        image.preprocessing.bias.extend(_compact(self.bias))
        return image

    def to_json(self) -> dict[str, Any]:
        return {
            "width": self.width,
            "height": self.height,
            "color_space": self.color_space,
            "scale": list(self.scale),
            "bias": list(self.bias),
        }

    def preprocess(self, pixels: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
        """[N, C, H, W] pixels 0..255 in this colour space's channel order -> the network's tensor."""
        import numpy as np  # noqa: PLC0415 (`mlspec --help` reads this module's names, not pixels)

        scale = np.asarray(self.scale, np.float32).reshape(1, -1, 1, 1)
        bias = np.asarray(self.bias, np.float32).reshape(1, -1, 1, 1)
        return np.ascontiguousarray(pixels * scale + bias, dtype=np.float32)


def from_mean_std(
    scale: float, mean: Sequence[float], std: Sequence[float], channels: int
) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """(pixel * scale - mean) / std per channel, as the (scale, bias) pair the spec stores."""
    means = per_channel(mean, channels, 0.0)
    stds = per_channel(std, channels, 1.0)
    if any(s == 0 or not math.isfinite(s) for s in stds):
        raise MlspecError(f"image std {list(stds)}: every value must be a finite non-zero number")
    return tuple(scale / s for s in stds), tuple(-m / s for m, s in zip(means, stds, strict=True))


def image_problems(feature: tensor_pb2.FeatureDescription, where: str) -> list[Problem]:
    """What stops `feature.image` from describing its tensor: every problem, each with a fix."""
    image = feature.image
    here = f"{where}.image"
    problems: list[Problem] = []
    if image.color_space not in _NAMES:
        allowed = ", ".join(COLOR_SPACES)
        problems.append(Problem(f"{here}.color_space", "is not set", f"use one of {allowed}"))
    for side in ("width", "height"):
        value = getattr(image, side)
        if not 1 <= value <= MAX_SIDE:
            problems.append(Problem(f"{here}.{side}", f"is {value}", f"use 1..{MAX_SIDE}"))
    channels = 1 if image.color_space == tensor_pb2.COLOR_SPACE_GRAY else 3
    for name in ("scale", "bias"):
        values = list(getattr(image.preprocessing, name))
        if len(values) not in (0, 1, channels):
            problems.append(
                Problem(
                    f"{here}.preprocessing.{name}",
                    f"has {len(values)} values",
                    f"give 1 value or {channels} (one per channel of {_NAMES.get(image.color_space, 'rgb')})",
                )
            )
        if not all(math.isfinite(v) for v in values):
            problems.append(Problem(f"{here}.preprocessing.{name}", f"holds {values}", "use finite numbers"))
    if problems:
        return problems
    return _tensor_problems(feature, ImageInput.of(image), where)


# Augmentation fields and their allowed values (see training.proto's Augmentation).
AUGMENTATION_LIMITS = {
    "brightness": (0.0, 1.0),
    "max_rotation_degrees": (0.0, 180.0),
    "crop_padding": (0, MAX_SIDE),
}


def augmentation_problems(model: model_pb2.Model) -> list[Problem]:
    """Each augmentation value within its limits, and an image input for it to change."""
    update = model.update_parameters
    if not update.HasField("augmentation"):
        return []
    here = "update_parameters.augmentation"
    augmentation = update.augmentation
    problems = []
    for name, (low, high) in AUGMENTATION_LIMITS.items():
        value = getattr(augmentation, name)
        if not (math.isfinite(value) and low <= value <= high):
            problems.append(Problem(f"{here}.{name}", f"is {value}", f"use {low:g}..{high:g}"))
    active = augmentation.horizontal_flip or any(getattr(augmentation, name) for name in AUGMENTATION_LIMITS)
    if active and not any(feature.HasField("image") for feature in model.description.inputs):
        problems.append(
            Problem(
                here, "is set, but no input is an image", "declare an image input, or clear the augmentation"
            )
        )
    return problems


def _tensor_problems(feature: tensor_pb2.FeatureDescription, image: ImageInput, where: str) -> list[Problem]:
    expected = ["batch", image.channels, image.height, image.width]
    shown = f"float32 [batch, {image.channels}, {image.height}, {image.width}]"
    tensor = feature.type.tensor if feature.type.HasField("tensor") else None
    if tensor is None or tensor.dtype != tensor_pb2.FLOAT32 or len(tensor.shape) != len(expected):
        return [Problem(f"{where}.type", f"is not the image's tensor {shown}", f"declare {shown}")]
    for index, (dim, want) in enumerate(zip(tensor.shape[1:], expected[1:], strict=True), start=1):
        if dim.WhichOneof("value") != "size" or dim.size != want:
            got = dim.size if dim.WhichOneof("value") == "size" else repr(dim.symbol)
            return [
                Problem(
                    f"{where}.type",
                    f"dimension {index} is {got}, but the image makes it {want}",
                    f"declare {shown}",
                )
            ]
    return []


def per_channel(values: Sequence[float], channels: int, default: float) -> tuple[float, ...]:
    if not values:
        return (default,) * channels
    if len(values) == 1:
        return (float(values[0]),) * channels
    if len(values) != channels:
        raise MlspecError(f"{len(values)} values given; give 1 or {channels} (one per channel)")
    return tuple(float(v) for v in values)


def _compact(values: tuple[float, ...]) -> list[float]:
    """One value when every channel shares it (the form Core ML's scale takes)."""
    return [values[0]] if len(set(values)) == 1 else list(values)
