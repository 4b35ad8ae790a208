"""Core ML image inputs <-> mlspec image inputs: imageType with its NeuralNetworkImageScaler.

Core ML feeds an image input's pixels (0..255) in its colour space's channel order and applies
the scaler, channelScale * pixel + per-channel bias, before the first layer; mlspec's image
input (mlspec.spec.images) holds the same facts, so both directions are field for field. Core
ML's scaler has one scale for every channel, so per-channel scales (a per-channel std) cannot be
exported; its mean image has no mlspec equivalent and is refused on import.
"""

from __future__ import annotations

from typing import Any

from mlspec.spec.images import ImageInput

# Core ML's ImageFeatureType.ColorSpace: GRAYSCALE, RGB, BGR, GRAYSCALE_FLOAT16.
COLOR_SPACES = {10: "gray", 20: "rgb", 30: "bgr", 40: "gray"}
_CODES = {"gray": 10, "rgb": 20, "bgr": 30}
# The scaler's bias fields in the order the network reads the channels.
_BIAS_FIELDS = {
    "gray": ("grayBias",),
    "rgb": ("redBias", "greenBias", "blueBias"),
    "bgr": ("blueBias", "greenBias", "redBias"),
}


def imported_image(image_type: Any, scaler: Any | None) -> ImageInput:
    """An imageType (and the scaler of its preprocessing step, if any) as an mlspec image input."""
    space = COLOR_SPACES.get(int(image_type.colorSpace), "rgb")
    channels = len(_BIAS_FIELDS[space])
    scale = float(scaler.channelScale) if scaler is not None else 1.0
    bias = (
        tuple(float(getattr(scaler, name)) for name in _BIAS_FIELDS[space]) if scaler else (0.0,) * channels
    )
    return ImageInput(int(image_type.width), int(image_type.height), space, (scale,) * channels, bias)


def export_image(image: ImageInput, name: str, feature_type: Any, network: Any) -> str | None:
    """Write the imageType and, unless it is the identity, a scaler; or say why Core ML cannot."""
    if len(set(image.scale)) > 1:
        scales = ", ".join(f"{value:g}" for value in image.scale)
        return f"per-channel scales ({scales}); Core ML's image scaler takes one scale for every channel"
    feature_type.imageType.width = image.width
    feature_type.imageType.height = image.height
    feature_type.imageType.colorSpace = _CODES[image.color_space]
    if image.scale[0] == 1.0 and not any(image.bias):
        return None
    scaler = network.preprocessing.add(featureName=name).scaler
    scaler.channelScale = image.scale[0]
    for field, value in zip(_BIAS_FIELDS[image.color_space], image.bias, strict=True):
        setattr(scaler, field, value)
    return None
