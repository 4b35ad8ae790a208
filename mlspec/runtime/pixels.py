"""Pixels -> an image input's tensor: the one path training, evaluation and prediction all take.

Data for an image input (see mlspec.spec.images) is pixels, never preprocessed values: uint8 or
float arrays of values 0..255, one image per row, shaped (N, H, W) or (N, H, W, 1) for gray and
(N, H, W, 3) for RGB, as Pillow and most image libraries hand them out. A batch already laid out
as the network reads it, (N, C, H, W) in the colour space's channel order, is taken as well
when its shape says so unambiguously. Images of another size are resized (bilinear, Pillow's
filter, channel by channel in float32); RGB becomes BGR by reversing the channels, or gray by
ITU-R 601-2 luma (0.299 R + 0.587 G + 0.114 B, Pillow's "L" weights); gray becomes RGB or BGR by
repeating its channel. Then each channel becomes pixel * scale + bias.

A folder of images decodes each file to such pixels (`ImageFolder`), so files and arrays reach
the network through the same code.
"""

from __future__ import annotations

from types import ModuleType

import numpy as np
import numpy.typing as npt

from mlspec.runtime.data_error import DataError
from mlspec.spec.images import ImageInput

Array = npt.NDArray[np.generic]
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


def to_tensor(image: ImageInput, name: str, pixels: Array, where: str) -> npt.NDArray[np.float32]:
    """A batch of pixels as the network's float32 [N, C, H, W] tensor, preprocessed."""
    if pixels.dtype.kind not in "uif":
        raise DataError(
            f"{where}: {name!r} has dtype {pixels.dtype}; an image input takes pixel values 0..255 "
            "(uint8 or float)"
        )
    values = pixels.astype(np.float32, copy=False)
    if not np.isfinite(values.sum(dtype=np.float64)):
        row = int(np.flatnonzero(~np.isfinite(values).reshape(len(values), -1).all(axis=1))[0])
        raise DataError(f"{where}: {name!r} row {row} holds NaN or Inf; pixels must be finite")
    if values.shape[1:] == (image.channels, image.height, image.width) and image.width not in (1, 3):
        return image.preprocess(values)  # laid out as the network reads it
    chw = _channels_first(image, name, values, where)
    if chw.shape[2:] != (image.height, image.width):
        chw = np.stack([resize(one, image.width, image.height) for one in chw])
    return image.preprocess(_color(image, chw))


def resize(chw: npt.NDArray[np.float32], width: int, height: int) -> npt.NDArray[np.float32]:
    """One [C, H, W] image resized to height x width, each channel by Pillow's bilinear filter."""
    pillow = pillow_image()
    channels = [
        np.asarray(
            pillow.fromarray(np.ascontiguousarray(plane, np.float32), mode="F").resize(
                (width, height), pillow.Resampling.BILINEAR
            ),
            dtype=np.float32,
        )
        for plane in chw
    ]
    return np.stack(channels)


def pillow_image() -> ModuleType:
    """Pillow's Image module, imported on first use: it is an optional extra."""
    try:
        from PIL import Image  # noqa: PLC0415
    except ImportError:
        raise DataError("reading images needs Pillow: pip install 'mlspec[images]'") from None
    return Image


def _channels_first(image: ImageInput, name: str, values: Array, where: str) -> npt.NDArray[np.float32]:
    shape = values.shape[1:]
    if len(shape) == 2:
        return values[:, np.newaxis]  # type: ignore[return-value]
    if len(shape) == 3 and shape[2] in (1, 3):
        return np.ascontiguousarray(values.transpose(0, 3, 1, 2))
    raise DataError(
        f"{where}: {name!r} has per-example shape {tuple(shape)}; an image input takes pixels shaped "
        f"(height, width) or (height, width, 1) for gray, (height, width, 3) for RGB, or "
        f"({image.channels}, {image.height}, {image.width})"
    )


def _color(image: ImageInput, chw: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    """Pixels in RGB (3 channels) or gray (1) -> the colour space the network reads."""
    if chw.shape[1] == image.channels:
        is_rgb = chw.shape[1] == 3
        return chw[:, ::-1] if is_rgb and image.color_space == "bgr" else chw
    if image.channels == 1:
        return np.einsum("nchw,c->nhw", chw, _LUMA)[:, np.newaxis]  # type: ignore[no-any-return]
    return np.repeat(chw, 3, axis=1)
