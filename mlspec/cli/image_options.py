"""Declaring an input an image from the command line: one set of options and one code path for
`set-image-input`, `import-onnx --image-input` and `make-updatable --image-input`.

The options follow torchvision's habits (`--scale 1/255 --mean ... --std ...`, Normalize after
ToTensor) or Core ML's scaler (`--scale --bias`); either is stored as the spec's one per-channel
map pixel * scale + bias, so every command checks and writes the same thing.
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from typing import TYPE_CHECKING, Annotated

import typer

from mlspec.spec.errors import MlspecError
from mlspec.spec.images import COLOR_SPACES

if TYPE_CHECKING:
    from mlspec.builder import NetworkBuilder

_LAYOUT_HELP = (
    f"Channel order the network reads: {', '.join(COLOR_SPACES)} "
    "(default: gray for a 1-channel input, rgb for 3)."
)
ColorLayoutOpt = Annotated[str | None, typer.Option("--color-layout", "--color-space", help=_LAYOUT_HELP)]
ScaleOpt = Annotated[str | None, typer.Option("--scale", help="Pixel scale, such as 1/255 (default 1).")]
BiasOpt = Annotated[
    str | None, typer.Option("--bias", help="Bias added after scaling: one, or one per channel.")
]
MeanOpt = Annotated[str | None, typer.Option("--mean", help="Mean subtracted after scaling, per channel.")]
StdOpt = Annotated[str | None, typer.Option("--std", help="Std divided by after the mean, per channel.")]
ImageInputOpt = Annotated[
    str | None,
    typer.Option(
        "--image-input",
        metavar="NAME",
        help="Declare this [batch, C, H, W] input an image (see --color-layout, --scale, --mean, --std).",
    ),
]


@dataclass(frozen=True)
class ImageOptions:
    """The image options exactly as typed (None: not given)."""

    color_layout: str | None = None
    scale: str | None = None
    bias: str | None = None
    mean: str | None = None
    std: str | None = None

    def given(self) -> list[str]:
        """The flags given, for refusing them where no --image-input names an input."""
        flags = ("--color-layout", "--scale", "--bias", "--mean", "--std")
        values = (self.color_layout, self.scale, self.bias, self.mean, self.std)
        return [flag for flag, value in zip(flags, values, strict=True) if value is not None]


def check_image_options(input_name: str | None, options: ImageOptions) -> None:
    """Refuse image options that no --image-input would use (before anything is read or written)."""
    given = options.given()
    if input_name is None and given:
        verb = "needs" if len(given) == 1 else "need"
        raise MlspecError(f"{', '.join(given)} {verb} --image-input NAME (the input to declare an image)")
    if options.bias is not None and (options.mean is not None or options.std is not None):
        raise MlspecError("give --bias, or --mean and --std, not both")


def declare_image_input(builder: NetworkBuilder, input_name: str, options: ImageOptions) -> str:
    """Declare `input_name` an image with the options' preprocessing; returns what was declared,
    for the command's closing line. The builder checks the input's shape and colour layout."""
    from mlspec.spec.images import from_mean_std

    check_image_options(input_name, options)
    color_space = options.color_layout or _default_layout(builder, input_name)
    if color_space not in COLOR_SPACES:
        raise MlspecError(f"--color-layout {color_space!r} is not one of {', '.join(COLOR_SPACES)}")
    channels = 1 if color_space == "gray" else 3
    scale = _number(options.scale, "--scale") if options.scale is not None else 1.0
    scales: list[float] | tuple[float, ...] = [scale]
    biases: list[float] | tuple[float, ...] = _numbers(options.bias, "--bias") or [0.0]
    if options.mean is not None or options.std is not None:
        means, stds = _numbers(options.mean, "--mean") or [0.0], _numbers(options.std, "--std") or [1.0]
        for option, values in (("--mean", means), ("--std", stds)):
            if len(values) not in (1, channels):
                wanted = f"give 1 or {channels} for {color_space}"
                raise MlspecError(f"{option} has {len(values)} values; {wanted}")
        scales, biases = from_mean_std(scale, means, stds, channels)
    builder.set_image_input(input_name, color_space=color_space, scale=scales, bias=biases)
    return f'input "{input_name}" is a {color_space} image'


def _default_layout(builder: NetworkBuilder, input_name: str) -> str:
    """gray for a one-channel input, rgb otherwise (the builder refuses what fits neither)."""
    for feature in builder.spec.description.inputs:
        if feature.name == input_name and len(feature.type.tensor.shape) == 4:
            channels = feature.type.tensor.shape[1]
            if channels.WhichOneof("value") == "size" and channels.size == 1:
                return "gray"
    return "rgb"


def _number(text: str, option: str) -> float:
    """A number or a fraction such as 1/255."""
    try:
        return float(Fraction(text.strip()))
    except (ValueError, ZeroDivisionError):
        raise MlspecError(f"{option} {text!r}: not a number or a fraction such as 1/255") from None


def _numbers(text: str | None, option: str) -> list[float] | None:
    return None if text is None else [_number(part, option) for part in text.split(",")]
