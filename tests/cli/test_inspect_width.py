"""`inspect` fits an 80-column terminal, on a model as wide as exporters make them: torch-style
layer names, image input with per-channel preprocessing, Adam with every setting, augmentation."""

from __future__ import annotations

from pathlib import Path

from mlspec.builder import AdamParams, NetworkBuilder
from tests.cli import specs
from tests.cli.conftest import invoke


def _wide_model() -> NetworkBuilder:
    builder = NetworkBuilder(class_labels=[f"class_with_a_long_name_{i}" for i in range(12)], seed=0)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    builder.add_image_input(
        "pixel_values",
        16,
        16,
        scale=[1 / 255 / s for s in std],
        bias=[-m / s for m, s in zip(mean, std, strict=True)],
    )
    tensor = "pixel_values"
    for index in range(3):
        name = f"/backbone/encoder/layer.{index}/attention/output/dense/Conv"
        builder.add_convolution(name, tensor, 8, (3, 3), padding="same")
        builder.add_activation(f"/backbone/encoder/layer.{index}/intermediate/act_fn/Relu", name, "relu")
        tensor = f"/backbone/encoder/layer.{index}/intermediate/act_fn/Relu"
    builder.add_flatten("/classifier/Flatten", tensor)
    builder.add_inner_product("/classifier/dense/Gemm_with_a_long_exported_name", "/classifier/Flatten", 12)
    builder.add_softmax("probabilities", "/classifier/dense/Gemm_with_a_long_exported_name")
    builder.make_updatable(["/classifier/dense/Gemm_with_a_long_exported_name"])
    builder.set_loss("categorical_cross_entropy", "probabilities")
    params = AdamParams(lr=0.001, batch=32)
    params.set_batch(32, [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192])
    params.set_weight_decay(0.0001, (0.0, 0.1))
    builder.set_optimizer(params)
    builder.set_epochs(10, (1, 1000))
    builder.set_gradient_clipping(max_norm=1.0, allowed=(0.001, 100.0))
    builder.set_augmentation(horizontal_flip=True, crop_padding=2, brightness=0.1)
    return builder


def test_inspect_fits_80_columns(tmp_path: Path) -> None:
    path = specs.write(_wide_model().spec, tmp_path / "wide.mlspec")
    result = invoke("inspect", path, env={"COLUMNS": "80"})
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert len(lines) > 40
    too_wide = [line for line in lines if len(line) > 80]
    assert not too_wide, "\n".join(too_wide)
    text = result.stdout.replace("\n", "")
    assert "value = pixel * (0.0171" in result.stdout and "augmentation" in text
