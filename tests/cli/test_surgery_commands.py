"""Surgery from the command line: each command makes the builder's edit (checked here against the
weights it must keep and the forward pass it must compute), refuses bad edits in one line naming
the layer or field and the allowed values, and writes nothing when it refuses."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mlspec._proto import model_pb2
from mlspec.reference import evaluate
from mlspec.spec import graph
from mlspec.spec.images import ImageInput
from mlspec.spec.io import load
from tests.cli import specs
from tests.cli.conftest import assert_one_line_failure, invoke
from tests.support.heads import classifier_head


def _run(source: Path, *args: str) -> model_pb2.Model:
    out = source.parent / "out.mlspec"
    result = invoke(args[0], source, *args[1:], "-o", out)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith(f"wrote {out}")
    return load(out)


def _x() -> np.ndarray:
    return np.random.default_rng(0).normal(size=(5, specs.FEATURES)).astype(np.float32)


def test_narrow_keeps_the_first_classes_rows_and_labels(classifier_path: Path) -> None:
    before = specs.tensor_values(load(classifier_path))
    spec = _run(classifier_path, "narrow-classifier", "--classes", "2")
    after = specs.tensor_values(spec)
    np.testing.assert_array_equal(after["fc2.weights"], before["fc2.weights"][:2])
    np.testing.assert_array_equal(after["fc2.bias"], before["fc2.bias"][:2])
    assert graph.class_labels(spec) == ["cat", "dog"]
    result = invoke(
        "narrow-classifier", classifier_path, "--classes", "3", "-o", classifier_path.parent / "n.mlspec"
    )
    assert_one_line_failure(result, "--classes 3", "has 3 classes; give 1 to 2")
    assert not (classifier_path.parent / "n.mlspec").exists()


def test_insert_then_remove_a_layer_gives_back_the_same_function(classifier_path: Path) -> None:
    original = load(classifier_path)
    inserted = _run(
        classifier_path,
        "insert-layer",
        "--after",
        "relu",
        "--kind",
        "activation",
        "--name",
        "tanh",
        "--param",
        "activation=tanh",
    )
    names = [layer.name for layer in inserted.network.layers]
    assert names == ["fc1", "bn", "relu", "tanh", "fc2", "probs"]
    # The inserted tanh now sits between relu and fc2: fc2 reads tanh(relu(...)).
    hidden = evaluate(original, {"x": _x()}, outputs=["relu"])["relu"]
    fc2 = specs.tensor_values(original)
    logits = np.tanh(hidden) @ fc2["fc2.weights"].T + fc2["fc2.bias"]
    expected = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(evaluate(inserted, {"x": _x()})["probs"], expected, rtol=1e-5, atol=1e-6)
    (classifier_path.parent / "inserted.mlspec").write_bytes(
        (classifier_path.parent / "out.mlspec").read_bytes()
    )
    removed = _run(classifier_path.parent / "inserted.mlspec", "remove-layer", "--layer", "tanh")
    np.testing.assert_allclose(
        evaluate(removed, {"x": _x()})["probs"], evaluate(original, {"x": _x()})["probs"], rtol=1e-6
    )


def test_replace_rename_and_set_labels(classifier_path: Path) -> None:
    replaced = _run(
        classifier_path,
        "replace-layer",
        "--layer",
        "relu",
        "--kind",
        "activation",
        "--param",
        "activation=leaky_relu",
        "--param",
        "alpha=0.5",
    )
    bn = evaluate(replaced, {"x": _x()}, outputs=["bn", "relu"])
    np.testing.assert_allclose(bn["relu"], np.where(bn["bn"] > 0, bn["bn"], 0.5 * bn["bn"]), rtol=1e-6)
    renamed = _run(classifier_path, "rename-layer", "--layer", "fc2", "--to", "head")
    assert [layer.name for layer in renamed.network.layers] == ["fc1", "bn", "relu", "head", "probs"]
    labelled = _run(classifier_path, "set-labels", "--labels", "rock,paper,scissors")
    assert graph.class_labels(labelled) == ["rock", "paper", "scissors"]
    numbered = _run(classifier_path, "set-labels", "--labels", "3,1,2")
    assert graph.class_labels(numbered) == [3, 1, 2]


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (("remove-layer", "--layer", "nope"), ('"nope"', "fc1, bn, relu, fc2, probs")),
        (("insert-layer", "--after", "relu", "--kind", "gizmo", "--name", "g"), ("gizmo", "inner_product")),
        (("insert-layer", "--kind", "dropout", "--name", "d"), ("--after LAYER or --before LAYER",)),
        (
            ("insert-layer", "--after", "relu", "--kind", "dropout", "--name", "d", "--param", "rate"),
            ("--param 'rate'", "KEY=VALUE"),
        ),
        (("rename-layer", "--layer", "fc2", "--to", "fc1"), ("fc1",)),
        (("set-labels", "--labels", "a,b"), ("2 labels", "3 classes")),
        (
            ("replace-layer", "--layer", "relu", "--kind", "activation", "--param", "activation=swish"),
            ("swish",),
        ),
    ],
)
def test_refusals_are_one_line_and_write_nothing(
    classifier_path: Path, args: tuple[str, ...], fragments: tuple[str, ...]
) -> None:
    out = classifier_path.parent / "refused.mlspec"
    before = specs.digest(classifier_path)
    result = invoke(args[0], classifier_path, *args[1:], "-o", out)
    assert_one_line_failure(result, *fragments)
    assert not out.exists()
    assert specs.digest(classifier_path) == before


def _cnn_path(tmp_path: Path) -> Path:
    from mlspec.builder import NetworkBuilder  # noqa: PLC0415

    builder = NetworkBuilder(class_labels=["a", "b"], seed=0)
    builder.add_input("image", [3, 4, 4])
    return specs.write(classifier_head(builder, "image", 2, train=()).spec, tmp_path / "cnn.mlspec")


def test_set_image_input_stores_mean_and_std_as_scale_and_bias(tmp_path: Path) -> None:
    spec = _run(
        _cnn_path(tmp_path),
        "set-image-input",
        "--input",
        "image",
        "--color-space",
        "bgr",
        "--scale",
        "1/255",
        "--mean",
        "0.4,0.5,0.6",
        "--std",
        "0.2,0.25,0.5",
    )
    image = ImageInput.of(spec.description.inputs[0].image)
    assert image.color_space == "bgr" and (image.width, image.height) == (4, 4)
    np.testing.assert_allclose(image.scale, [1 / 255 / 0.2, 1 / 255 / 0.25, 1 / 255 / 0.5])
    np.testing.assert_allclose(image.bias, [-0.4 / 0.2, -0.5 / 0.25, -0.6 / 0.5])
    shown = invoke("inspect", tmp_path / "out.mlspec", "--json")
    assert json.loads(shown.stdout)["inputs"][0]["image"]["color_space"] == "bgr"


def test_make_updatable_declares_augmentation_for_image_inputs_only(
    tmp_path: Path, classifier_path: Path
) -> None:
    _run(_cnn_path(tmp_path), "set-image-input", "--input", "image", "--scale", "1/255")
    image = tmp_path / "image.mlspec"
    (tmp_path / "out.mlspec").rename(image)
    spec = _run(image, "make-updatable", "--layers", "fc", "--augment-flip", "--augment-crop", "2")
    augmentation = spec.update_parameters.augmentation
    assert augmentation.horizontal_flip and augmentation.crop_padding == 2
    assert augmentation.brightness == 0 and augmentation.max_rotation_degrees == 0
    shown = json.loads(invoke("inspect", tmp_path / "out.mlspec", "--json").stdout)["augmentation"]
    assert shown == {
        "brightness": 0.0,
        "horizontal_flip": True,
        "max_rotation_degrees": 0.0,
        "crop_padding": 2,
    }
    result = invoke("make-updatable", classifier_path, "--augment-flip", "-o", tmp_path / "no.mlspec")
    assert_one_line_failure(result, "update_parameters.augmentation", "no input is an image")
    assert not (tmp_path / "no.mlspec").exists()
