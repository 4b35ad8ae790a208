"""The "personalise a PyTorch image classifier" journey, through the CLI alone, as docs/guide.md
shows it: a CNN written the way torch.onnx.export writes one (built here with onnx.helper, so the
test needs no torch) -> import-onnx with the image input declared -> softmax and labels -> head
made updatable -> train on a folder of PNG and JPEG photos -> evaluate -> predict -> export-onnx.

The references are independent of mlspec: ONNX Runtime runs the original export and the final
one on pixels preprocessed by torchvision's formula written out in numpy, ((p / 255) - mean) / std.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto
from PIL import Image

from mlspec.spec.io import load
from tests.cli.conftest import assert_one_line_failure, invoke
from tests.importers.onnx_models import GraphBuilder, flatten_via_shape, run_onnx

MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)
SIDE = 12
LABELS = ["blue", "red"]


def _torch_export() -> onnx.ModelProto:
    """conv -> relu -> max pool -> torch.flatten -> Linear without bias -> logits, named and laid
    out as torch's dynamo exporter writes it (initializers, node_<Op>_<n>, a dynamic batch, a
    Linear whose all-zero bias the exporter dropped)."""
    b = GraphBuilder(opset=18)
    conv = b.node(
        "Conv",
        ["image", b.random("conv.weight", 4, 3, 3, 3), b.random("conv.bias", 4)],
        name="node_Conv_0",
        pads=[1, 1, 1, 1],
    )
    act = b.node("Relu", [conv], name="node_relu_1")
    pooled = b.node("MaxPool", [act], name="node_max_pool2d_2", kernel_shape=[2, 2], strides=[2, 2])
    flat = flatten_via_shape(b, pooled, name="node_view_3")
    b.node(
        "Gemm",
        [flat, b.random("fc.weight", 2, 4 * (SIDE // 2) ** 2, scale=0.1)],
        name="node_linear_4",
        transB=1,
    )
    return b.build(
        [("image", TensorProto.FLOAT, ["batch", 3, SIDE, SIDE])],
        [b.nodes[-1].output[0]],
        output_names=["logits"],
    )


def _photo(rng: np.random.Generator, label: str, height: int, width: int) -> np.ndarray:
    """Noise around a blue or a red colour: what a photo of each class looks like here."""
    colour = np.array([40, 60, 200] if label == "blue" else [200, 50, 40], np.float64)
    return np.clip(rng.normal(colour, 45, (height, width, 3)), 0, 255).astype(np.uint8)


def _photos(root: Path, count: int, seed: int) -> None:
    """ImageFolder layout: root/<label>/*.png|*.jpg, at sizes other than the model's."""
    rng = np.random.default_rng(seed)
    for label in LABELS:
        (root / label).mkdir(parents=True)
        for n in range(count):
            size = (16, 20) if n % 2 else (SIDE + 3, SIDE + 3)
            suffix = "png" if n % 3 else "jpg"
            Image.fromarray(_photo(rng, label, *size)).save(root / label / f"{n:02d}.{suffix}")


def _normalized(pixels: np.ndarray) -> np.ndarray:
    """torchvision's ToTensor then Normalize(MEAN, STD), on [N, H, W, 3] uint8 -> [N, 3, H, W]."""
    return ((pixels.astype(np.float32) / 255 - MEAN) / STD).transpose(0, 3, 1, 2).astype(np.float32)


def _ok(*args: object) -> str:
    result = invoke(*args)
    assert result.exit_code == 0, result.output
    return result.stdout


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities: np.ndarray = shifted / shifted.sum(axis=1, keepdims=True)
    return probabilities


def _predictions(path: Path) -> tuple[list[str], np.ndarray]:
    with path.open() as handle:
        rows = list(csv.DictReader(handle))
    return [row["label"] for row in rows], np.array(
        [[float(row[f"p_{label}"]) for label in LABELS] for row in rows]
    )


def test_personalise_a_pytorch_image_classifier_through_the_cli(tmp_path: Path) -> None:
    original = _torch_export()
    (tmp_path / "classifier.onnx").write_bytes(original.SerializeToString())
    photos = tmp_path / "photos"
    _photos(photos / "train", 24, seed=0)
    _photos(photos / "val", 10, seed=1)
    mine = np.stack([_photo(np.random.default_rng(9 + n), LABELS[n % 2], SIDE, SIDE) for n in range(4)])
    (tmp_path / "mine").mkdir()
    for n, pixels in enumerate(mine):
        Image.fromarray(pixels).save(tmp_path / "mine" / f"photo{n}.png")
    names = ("net", "probs", "classifier", "updatable", "trained")
    net, probs, classifier, updatable, trained = (tmp_path / f"{name}.mlspec" for name in names)

    normalize = ("--scale", "1/255", "--mean", ",".join(map(str, MEAN)), "--std", ",".join(map(str, STD)))
    out = _ok("import-onnx", tmp_path / "classifier.onnx", "-o", net, "--image-input", "image", *normalize)
    assert 'input "image" is a rgb image' in out
    head = [layer.name for layer in load(net).network.layers][-1]
    assert head == "node_linear_4"
    _ok("insert-layer", net, "--after", head, "--kind", "softmax", "--name", "probs", "-o", probs)
    _ok("set-labels", probs, "--labels", ",".join(LABELS), "-o", classifier)

    # Before training: the imported classifier answers softmax(original logits) on normalized pixels.
    _ok("predict", classifier, "--data", tmp_path / "mine", "-o", tmp_path / "before.csv")
    _, before = _predictions(tmp_path / "before.csv")
    expected = _softmax(run_onnx(original, {"image": _normalized(mine)})["logits"])
    np.testing.assert_allclose(before, expected, atol=1e-5)

    out = _ok(
        "make-updatable", classifier, "-o", updatable, "--layers", "head", "--add-bias",
        "--optimizer", "adam", "--lr", "0.05", "--batch-size", "8",
    )  # fmt: skip
    assert "updatable layers: node_linear_4" in out and "added a zero bias" in out
    out = _ok(
        "train", updatable, "--data", photos / "train", "--val", photos / "val",
        "--epochs", "6", "-o", trained,
    )  # fmt: skip
    before_accuracy = float(
        out.split("before training: validation loss ")[1].split("accuracy ")[1].split()[0]
    )

    report = json.loads(_ok("evaluate", trained, "--data", photos / "val", "--json"))
    assert report["examples"] == 20 and report["classes"] == LABELS
    assert report["accuracy"] >= 0.9 > before_accuracy + 0.2, (report["accuracy"], before_accuracy)
    assert sum(map(sum, report["confusion_matrix"])) == 20

    _ok("predict", trained, "--data", tmp_path / "mine", "-o", tmp_path / "after.csv")
    _ok("export-onnx", trained, "-o", tmp_path / "personal.onnx")
    exported = onnx.load(tmp_path / "personal.onnx")
    recorded = {prop.key: prop.value for prop in exported.metadata_props}
    image = json.loads(recorded["mlspec.image.image"])
    assert (image["width"], image["height"], image["color_space"]) == (SIDE, SIDE, "rgb")
    np.testing.assert_allclose(image["scale"], 1 / 255 / STD, rtol=1e-6)
    np.testing.assert_allclose(image["bias"], -MEAN / STD, rtol=1e-6)
    # The exported model takes the preprocessed tensor and answers what `predict` wrote.
    outputs = run_onnx(exported, {"image": _normalized(mine)})
    labels, after = _predictions(tmp_path / "after.csv")
    with (tmp_path / "after.csv").open() as handle:
        assert [row["file"] for row in csv.DictReader(handle)] == [f"photo{n}.png" for n in range(4)]
    np.testing.assert_allclose(after, outputs["logits"], atol=1e-5)
    assert labels == [LABELS[i] for i in np.argmax(outputs["logits"], axis=1)]
    assert labels == [LABELS[n % 2] for n in range(4)]


def test_a_classifier_left_on_logits_is_refused_naming_both_fixes(tmp_path: Path) -> None:
    """Labels set on the export's logits (no softmax): cross-entropy on probabilities cannot
    train; the refusal names the flag for logits and the command that adds a softmax."""
    (tmp_path / "classifier.onnx").write_bytes(_torch_export().SerializeToString())
    net, labelled = tmp_path / "net.mlspec", tmp_path / "labelled.mlspec"
    _ok("import-onnx", tmp_path / "classifier.onnx", "-o", net)
    _ok("set-labels", net, "--labels", ",".join(LABELS), "-o", labelled)
    result = invoke("make-updatable", labelled, "-o", tmp_path / "u.mlspec")
    assert_one_line_failure(result, "not a softmax", "--from-logits", "mlspec insert-layer --kind softmax")
    assert not (tmp_path / "u.mlspec").exists()
    _ok("make-updatable", labelled, "--from-logits", "-o", tmp_path / "u.mlspec")
