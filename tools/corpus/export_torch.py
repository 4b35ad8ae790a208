"""Export the PyTorch half of the import corpus (runs in the corpus side venv, never in mlspec's).

Every model is built with random weights (nothing is downloaded) and written twice, through
torch.onnx.export's TorchScript exporter (dynamo=False) and its default dynamo exporter
(dynamo=True), both with a dynamic batch axis. Beside each model a JSON sidecar records what
the corpus tests need without torch: the feeds at batch 2 and whether the model ends in
classifier logits. The same script also writes skl2onnx's MLPClassifier with default options.

Usage: export_torch.py OUT_DIR
"""

from __future__ import annotations

import contextlib
import json
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

# torchvision's compiled ops are built for a CUDA torch and do not load beside the CPU build, and
# its Python side registers fake kernels for them at import time, which needs their schemas. The
# classification models never call them, so declaring the schemas is enough.
_TORCHVISION_OPS = (
    "nms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qnms(Tensor dets, Tensor scores, float iou_threshold) -> Tensor",
    "qroi_align(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, SymInt pooled_width, "
    "int sampling_ratio, bool aligned) -> Tensor",
    "roi_align(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, SymInt pooled_width, "
    "int sampling_ratio, bool aligned) -> Tensor",
    "_roi_align_backward(Tensor grad, Tensor rois, float spatial_scale, SymInt pooled_height, "
    "SymInt pooled_width, SymInt batch_size, SymInt channels, SymInt height, SymInt width, "
    "int sampling_ratio, bool aligned) -> Tensor",
    "roi_pool(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, SymInt pooled_width) "
    "-> (Tensor, Tensor)",
    "_roi_pool_backward(Tensor grad, Tensor rois, Tensor argmax, float spatial_scale, SymInt pooled_height, "
    "SymInt pooled_width, SymInt batch_size, SymInt channels, SymInt height, SymInt width) -> Tensor",
    "ps_roi_align(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, "
    "SymInt pooled_width, int sampling_ratio) -> (Tensor, Tensor)",
    "_ps_roi_align_backward(Tensor grad, Tensor rois, Tensor channel_mapping, float spatial_scale, "
    "SymInt pooled_height, SymInt pooled_width, int sampling_ratio, SymInt batch_size, SymInt channels, "
    "SymInt height, SymInt width) -> Tensor",
    "ps_roi_pool(Tensor input, Tensor rois, float spatial_scale, SymInt pooled_height, SymInt pooled_width) "
    "-> (Tensor, Tensor)",
    "_ps_roi_pool_backward(Tensor grad, Tensor rois, Tensor channel_mapping, float spatial_scale, "
    "SymInt pooled_height, SymInt pooled_width, SymInt batch_size, SymInt channels, SymInt height, "
    "SymInt width) -> Tensor",
    "deform_conv2d(Tensor input, Tensor weight, Tensor offset, Tensor mask, Tensor bias, SymInt stride_h, "
    "SymInt stride_w, SymInt pad_h, SymInt pad_w, SymInt dilation_h, SymInt dilation_w, SymInt groups, "
    "SymInt offset_groups, bool use_mask) -> Tensor",
    "_deform_conv2d_backward(Tensor grad, Tensor input, Tensor weight, Tensor offset, Tensor mask, "
    "Tensor bias, SymInt stride_h, SymInt stride_w, SymInt pad_h, SymInt pad_w, SymInt dilation_h, "
    "SymInt dilation_w, SymInt groups, SymInt offset_groups, bool use_mask) "
    "-> (Tensor, Tensor, Tensor, Tensor, Tensor)",
)


def _declare_torchvision_ops() -> None:
    for schema in _TORCHVISION_OPS:
        name = schema.split("(", 1)[0]
        # RuntimeError: already declared (a torchvision build that does load its ops)
        with contextlib.suppress(RuntimeError):
            torch.library.define(f"torchvision::{name}", schema[len(name) :])


_declare_torchvision_ops()

import skl2onnx  # noqa: E402
import timm  # noqa: E402
import torchvision  # noqa: E402
from skl2onnx.common.data_types import FloatTensorType  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from torch import nn  # noqa: E402

CLASSES = 10
IMAGE = 64


class TextClassifier(nn.Module):  # type: ignore[misc]
    """Token ids -> Embedding -> mean over tokens -> LayerNorm -> Linear/GELU/Dropout -> logits."""

    def __init__(self, vocabulary: int = 500, width: int = 32, classes: int = 4) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocabulary, width)
        self.norm = nn.LayerNorm(width)
        self.fc1 = nn.Linear(width, 64)
        self.act = nn.GELU()
        self.drop = nn.Dropout(0.1)
        self.fc2 = nn.Linear(64, classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        pooled = self.embed(tokens).mean(dim=1)
        return self.fc2(self.drop(self.act(self.fc1(self.norm(pooled)))))


def _vision(name: str, **kwargs: Any) -> Callable[[], nn.Module]:
    return lambda: getattr(torchvision.models, name)(weights=None, num_classes=CLASSES, **kwargs)


def _timm(name: str, **kwargs: Any) -> Callable[[], nn.Module]:
    return lambda: timm.create_model(name, pretrained=False, num_classes=CLASSES, **kwargs)


IMAGE_FEED = {"name": "image", "dtype": "float32", "shape": [2, 3, IMAGE, IMAGE]}
TOKENS_FEED = {"name": "tokens", "dtype": "int64", "shape": [2, 16], "high": 500}

# name -> (constructor, feed); every one ends in classifier logits.
MODELS: dict[str, tuple[Callable[[], nn.Module], dict[str, Any]]] = {
    "tv_resnet18": (_vision("resnet18"), IMAGE_FEED),
    "tv_mobilenet_v2": (_vision("mobilenet_v2", width_mult=0.5), IMAGE_FEED),
    "tv_mobilenet_v3_small": (_vision("mobilenet_v3_small", width_mult=0.5), IMAGE_FEED),
    "tv_efficientnet_b0": (_vision("efficientnet_b0"), IMAGE_FEED),
    "tv_squeezenet1_1": (_vision("squeezenet1_1"), IMAGE_FEED),
    "tv_shufflenet_v2_x0_5": (_vision("shufflenet_v2_x0_5"), IMAGE_FEED),
    "tv_regnet_y_400mf": (_vision("regnet_y_400mf"), IMAGE_FEED),
    "tv_densenet121": (_vision("densenet121"), IMAGE_FEED),
    "timm_convnext_atto": (_timm("convnext_atto"), IMAGE_FEED),
    "timm_vit_tiny": (_timm("vit_tiny_patch16_224", img_size=IMAGE), IMAGE_FEED),
    "timm_mobilenetv3_small_050": (_timm("mobilenetv3_small_050"), IMAGE_FEED),
    "text_classifier": (TextClassifier, TOKENS_FEED),
}


def _example(feed: dict[str, Any], batch: int) -> torch.Tensor:
    shape = [batch, *feed["shape"][1:]]
    if feed["dtype"] == "int64":
        return torch.randint(0, int(feed["high"]), shape, dtype=torch.int64)
    return torch.randn(*shape)


def export_one(name: str, exporter: str, out: Path) -> None:
    build, feed = MODELS[name]
    torch.manual_seed(sum(map(ord, name)))
    model = build().eval()
    path = out / f"{name}.{exporter}.onnx"
    example = (_example(feed, 3),)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if exporter == "script":
            torch.onnx.export(
                model,
                example,
                str(path),
                dynamo=False,
                opset_version=17,
                input_names=[feed["name"]],
                output_names=["logits"],
                dynamic_axes={feed["name"]: {0: "batch"}, "logits": {0: "batch"}},
            )
        else:
            torch.onnx.export(
                model,
                example,
                str(path),
                dynamo=True,
                input_names=[feed["name"]],
                output_names=["logits"],
                dynamic_shapes=({0: torch.export.Dim("batch", min=1, max=1024)},),
                external_data=False,
            )
    sidecar = {
        "source": f"torch {torch.__version__} torch.onnx.export(dynamo={exporter == 'dynamo'})",
        "feeds": [feed],
        "classifier": "logits",
    }
    path.with_suffix(".json").write_text(json.dumps(sidecar, indent=1))


def export_sklearn(out: Path) -> None:
    """skl2onnx's MLPClassifier on sklearn's bundled digits, default options (a ZipMap output)."""
    digits = load_digits()
    classifier = MLPClassifier(hidden_layer_sizes=(32,), max_iter=60, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        classifier.fit(digits.data.astype("float32") / 16.0, digits.target)
    onnx_model = skl2onnx.to_onnx(
        classifier, initial_types=[("input", FloatTensorType([None, 64]))], target_opset=17
    )
    (out / "skl_mlp_classifier.onnx").write_bytes(onnx_model.SerializeToString())
    sidecar = {
        "source": f"skl2onnx {skl2onnx.__version__} MLPClassifier, default options",
        "feeds": [{"name": "input", "dtype": "float32", "shape": [2, 64]}],
        "classifier": "probabilities",
    }
    (out / "skl_mlp_classifier.json").write_text(json.dumps(sidecar, indent=1))


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    failures: list[str] = []
    for name in MODELS:
        for exporter in ("script", "dynamo"):
            try:
                export_one(name, exporter, out)
                print(f"exported {name}.{exporter}", flush=True)
            except Exception as exc:  # record the exporter's own failure as a corpus fact
                failures.append(f"{name}.{exporter}: {type(exc).__name__}: {str(exc)[:300]}")
                print(f"FAILED {failures[-1]}", flush=True)
    export_sklearn(out)
    (out / "export_failures.txt").write_text("".join(f"{line}\n" for line in failures))


if __name__ == "__main__":
    main()
