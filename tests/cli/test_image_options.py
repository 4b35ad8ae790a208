"""`--image-input` on import-onnx and make-updatable: the same declaration as set-image-input
(compared spec against spec), the same refusals, each one line, and nothing written on refusal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlspec.builder import NetworkBuilder
from mlspec.convert import to_onnx
from mlspec.spec.images import ImageInput
from mlspec.spec.io import load
from tests.cli import specs
from tests.cli.conftest import assert_one_line_failure, invoke
from tests.support.heads import classifier_head

IMAGE = ("--scale", "1/255", "--mean", "0.485,0.456,0.406", "--std", "0.229,0.224,0.225")


def _plain(tmp_path: Path, channels: int = 3) -> Path:
    """A [batch, C, 6, 5] classifier with no image declared, as a spec and as an ONNX file."""
    builder = NetworkBuilder(class_labels=["a", "b"], seed=0)
    builder.add_input("image", [channels, 6, 5])
    classifier_head(builder, "image", 2, train=())
    (tmp_path / "plain.onnx").write_bytes(to_onnx(builder.spec).SerializeToString())
    return specs.write(builder.spec, tmp_path / "plain.mlspec")


def _ok(*args: object) -> str:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_import_onnx_and_make_updatable_declare_what_set_image_input_declares(tmp_path: Path) -> None:
    plain = _plain(tmp_path)
    _ok(
        "set-image-input",
        plain,
        "--input",
        "image",
        "--color-layout",
        "bgr",
        *IMAGE,
        "-o",
        tmp_path / "s.mlspec",
    )
    expected = ImageInput.of(load(tmp_path / "s.mlspec").description.inputs[0].image)
    assert expected.color_space == "bgr" and (expected.width, expected.height) == (5, 6)
    np.testing.assert_allclose(expected.scale, 1 / 255 / np.array([0.229, 0.224, 0.225]))
    np.testing.assert_allclose(expected.bias, -np.array([0.485, 0.456, 0.406]) / [0.229, 0.224, 0.225])

    out = _ok(
        "import-onnx", tmp_path / "plain.onnx", "--image-input", "image", "--color-layout", "bgr", *IMAGE,
        "-o", tmp_path / "i.mlspec",
    )  # fmt: skip
    assert 'input "image" is a bgr image' in out
    assert ImageInput.of(load(tmp_path / "i.mlspec").description.inputs[0].image) == expected

    out = _ok(
        "make-updatable", plain, "--image-input", "image", "--color-space", "bgr", *IMAGE,
        "-o", tmp_path / "u.mlspec",
    )  # fmt: skip
    assert 'input "image" is a bgr image' in out
    updatable = load(tmp_path / "u.mlspec")
    assert ImageInput.of(updatable.description.inputs[0].image) == expected
    assert [layer.name for layer in updatable.network.layers if layer.is_updatable] == ["fc"]


def test_the_colour_layout_defaults_to_the_input_channels(tmp_path: Path) -> None:
    gray = _plain(tmp_path, channels=1)
    _ok("make-updatable", gray, "--image-input", "image", "--scale", "1/255", "-o", tmp_path / "g.mlspec")
    image = ImageInput.of(load(tmp_path / "g.mlspec").description.inputs[0].image)
    assert image.color_space == "gray" and image.scale == (1 / 255,) and image.bias == (0.0,)
    _ok("import-onnx", tmp_path / "plain.onnx", "--image-input", "image", "-o", tmp_path / "c.mlspec")
    assert ImageInput.of(load(tmp_path / "c.mlspec").description.inputs[0].image).color_space == "gray"


REFUSALS = [
    (("--image-input", "photo"), ('no feature named "photo"', "image")),
    (("--image-input", "image", "--color-layout", "cmyk"), ("--color-layout 'cmyk'", "gray, rgb, bgr")),
    (("--image-input", "image", "--color-layout", "gray"), ("dimension 1 is 3, but the image makes it 1",)),
    (("--image-input", "image", "--scale", "1/0"), ("--scale '1/0'", "fraction such as 1/255")),
    (("--image-input", "image", "--mean", "0.1,0.2"), ("--mean has 2 values; give 1 or 3 for rgb",)),
    (("--image-input", "image", "--std", "0"), ("image std [0.0, 0.0, 0.0]", "non-zero")),
    (("--image-input", "image", "--bias", "1", "--mean", "0.5"), ("--bias, or --mean and --std, not both",)),
]
# Image options without --image-input: set-image-input cannot be asked that (its --input is required).
UNUSED = (("--scale", "1/255", "--mean", "0.5"), ("--scale, --mean need --image-input NAME",))


@pytest.mark.parametrize(
    ("command", "args", "fragments"),
    [
        *(
            (command, *refusal)
            for command in ("import-onnx", "make-updatable", "set-image-input")
            for refusal in REFUSALS
        ),
        *((command, *UNUSED) for command in ("import-onnx", "make-updatable")),
    ],
)
def test_refusals_are_the_same_one_line_in_every_command(
    tmp_path: Path, command: str, args: tuple[str, ...], fragments: tuple[str, ...]
) -> None:
    plain = _plain(tmp_path)
    source = tmp_path / "plain.onnx" if command == "import-onnx" else plain
    before = specs.digest(plain)
    result = invoke(command, source, *args, "-o", tmp_path / "x.mlspec")
    assert_one_line_failure(result, *fragments)
    assert not (tmp_path / "x.mlspec").exists()
    assert specs.digest(plain) == before
