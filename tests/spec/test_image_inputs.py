"""Image inputs in the spec: the builder declares them, the validator names every inconsistent
field with its allowed values, mean/std become the stored scale and bias, and the ONNX export
records the preprocessing it leaves to the caller."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import onnx
import pytest

from mlspec._proto import model_pb2, tensor_pb2
from mlspec.builder import NetworkBuilder
from mlspec.convert import to_onnx
from mlspec.spec.errors import MlspecError, SpecEditError
from mlspec.spec.images import ImageInput, from_mean_std
from mlspec.spec.io import SPEC_VERSION
from mlspec.spec.validate import find_problems


def _model(
    color_space: str = "rgb", *, scale: float | Sequence[float] = 1.0, bias: float | Sequence[float] = 0.0
) -> model_pb2.Model:
    builder = NetworkBuilder(mode="plain", seed=0)
    builder.add_image_input("photo", 4, 3, color_space=color_space, scale=scale, bias=bias)
    builder.add_flatten("flat", "photo")
    builder.add_inner_product("fc", "flat", 2)
    return builder.spec


def test_builder_declares_the_tensor_the_image_makes() -> None:
    spec = _model("gray", scale=1 / 255, bias=-0.5)
    feature = spec.description.inputs[0]
    assert [d.symbol or d.size for d in feature.type.tensor.shape] == ["batch", 1, 3, 4]
    assert ImageInput.of(feature.image) == ImageInput(4, 3, "gray", (1 / 255,), (-0.5,))
    assert find_problems(spec) == []


def test_builder_refuses_what_does_not_fit_and_changes_nothing() -> None:
    builder = NetworkBuilder.edit(_model())
    before = builder.spec.SerializeToString()
    with pytest.raises(SpecEditError, match=r"colour space 'cmyk' is not one of gray, rgb, bgr"):
        builder.set_image_input("photo", color_space="cmyk")
    with pytest.raises(SpecEditError, match=r"bias has 2 values; give 1 or 3 \(one per channel\)"):
        builder.set_image_input("photo", bias=[0.1, 0.2])
    with pytest.raises(SpecEditError, match=r"dimension 1 is 3, but the image makes it 1"):
        builder.set_image_input("photo", color_space="gray")
    assert builder.spec.SerializeToString() == before


def test_validator_names_each_field_and_what_is_allowed() -> None:
    spec = _model()
    image = spec.description.inputs[0].image
    image.color_space = tensor_pb2.COLOR_SPACE_UNSPECIFIED
    image.width = 0
    image.preprocessing.bias[:] = [1.0, 2.0]
    messages = {str(problem) for problem in find_problems(spec)}
    assert messages >= {
        'description.inputs["photo"].image.color_space: is not set. Fix: use one of gray, rgb, bgr',
        'description.inputs["photo"].image.width: is 0. Fix: use 1..32768',
        'description.inputs["photo"].image.preprocessing.bias: has 2 values. '
        "Fix: give 1 value or 3 (one per channel of rgb)",
    }
    spec = _model()
    spec.description.inputs[0].image.height = 5
    (problem,) = find_problems(spec)
    assert str(problem) == (
        'description.inputs["photo"].type: dimension 2 is 3, but the image makes it 5. '
        "Fix: declare float32 [batch, 3, 5, 4]"
    )
    spec = _model()
    spec.description.outputs[0].image.width = 4
    assert [p.where for p in find_problems(spec)] == ['description.outputs["fc"].image']


def test_mean_and_std_become_scale_and_bias() -> None:
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)  # torchvision's ImageNet Normalize
    scale, bias = from_mean_std(1 / 255, mean, std, 3)
    image = ImageInput(2, 2, "rgb", scale, bias)
    pixels = np.random.default_rng(0).integers(0, 256, (2, 3, 2, 2)).astype(np.float32)
    expected = (pixels / 255 - np.array(mean)[None, :, None, None]) / np.array(std)[None, :, None, None]
    np.testing.assert_allclose(image.preprocess(pixels), expected, rtol=1e-5, atol=1e-5)
    with pytest.raises(MlspecError, match=r"every value must be a finite non-zero number"):
        from_mean_std(1.0, [0.0], [0.0], 1)


def test_onnx_export_records_the_preprocessing_it_takes_after() -> None:
    spec = _model("bgr", scale=0.5, bias=[1.0, 2.0, 3.0])
    exported = onnx.load_from_string(to_onnx(spec).SerializeToString())
    props = {prop.key: prop.value for prop in exported.metadata_props}
    assert json.loads(props["mlspec.image.photo"]) == {
        "width": 4,
        "height": 3,
        "color_space": "bgr",
        "scale": [0.5, 0.5, 0.5],
        "bias": [1.0, 2.0, 3.0],
    }
    dims = [d.dim_value or d.dim_param for d in exported.graph.input[0].type.tensor_type.shape.dim]
    assert dims[1:] == [3, 3, 4]


def test_declaring_an_image_lifts_an_older_spec_to_the_version_that_has_them() -> None:
    builder = NetworkBuilder(mode="plain", seed=0)
    builder.add_input("photo", (3, 3, 4))
    builder.add_flatten("flat", "photo")
    builder.spec.spec_version = 1
    builder.set_image_input("photo")
    assert builder.spec.spec_version == SPEC_VERSION == 3
