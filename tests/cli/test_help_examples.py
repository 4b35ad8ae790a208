"""The `Example:` line of every command's --help runs as written, on files named as it names them.

Users copy these lines first; one that names a layer the example spec lacks, or an option that
was renamed, would fail on their first try.
"""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import click
import numpy as np
import pytest
import typer

from mlspec.backends import to_training_artifacts
from mlspec.builder import NetworkBuilder, SgdParams
from mlspec.builder.knn import KnnClassifier
from mlspec.cli import app
from mlspec.convert import to_onnx
from mlspec.spec.io import save
from tests.cli import specs
from tests.cli.conftest import invoke
from tests.importers.coreml_models import cnn_classifier
from tests.support.heads import classifier_head

EXAMPLE = re.compile(r"^\s*Example: mlspec (.+)$", re.MULTILINE)
LABELS = ["cat", "bird", "fish"]  # widen-classifier's example adds dog and owl


def _examples() -> dict[str, list[str]]:
    group = typer.main.get_command(app)
    assert isinstance(group, click.Group)
    found: dict[str, list[str]] = {}
    for name, command in group.commands.items():
        match = EXAMPLE.search(command.help or "")
        assert match is not None, f"{name} --help has no Example line"
        words = shlex.split(match.group(1))
        found[name] = words[: words.index(">")] if ">" in words else words  # the shell's redirection
    return found


def _example_files(folder: Path) -> None:
    """The files the examples name: a 3-class classifier whose head is "fc", a [3, 8, 8] image
    classifier, its updatable form,
    .npz data keyed by its inputs, and ONNX (the image classifier) and Core ML models to import."""
    builder = NetworkBuilder(class_labels=LABELS, seed=0)
    builder.add_input("x", [specs.FEATURES])
    builder.add_inner_product("hidden", "x", 8)
    builder.add_activation("relu", "hidden", "relu")
    builder.add_inner_product("fc", "relu", len(LABELS))
    builder.add_softmax("probs", "fc")
    classifier = builder.spec
    save(classifier, folder / "classifier.mlspec")
    save(classifier, folder / "net.mlspec")  # the same, under a name short enough for long examples
    updatable = NetworkBuilder.edit(classifier)
    updatable.make_updatable(["fc"])
    updatable.set_loss("categorical_cross_entropy", "probs")
    updatable.set_optimizer(SgdParams(lr=0.1, batch=8))
    updatable.set_epochs(1, (1, 10))
    save(updatable.spec, folder / "updatable.mlspec")
    cnn = NetworkBuilder(class_labels=LABELS, seed=0)
    cnn.add_input("image", [3, 8, 8])
    classifier_head(cnn, "image", len(LABELS), train=())
    save(cnn.spec, folder / "cnn.mlspec")
    (folder / "cnn.onnx").write_bytes(to_onnx(cnn.spec).SerializeToString())
    specs.write_blobs(folder / "train.npz", 24, string_labels=False)
    specs.write_blobs(folder / "val.npz", 12, seed=1, string_labels=False)
    portable = to_training_artifacts(updatable.spec, folder / "portable", backend="portable")
    assert portable.backend == "portable"
    shutil.move(folder / "portable" / "state.ckpt", folder / "trained.ckpt")  # a state a page would save
    cnn_classifier(folder / "MNIST.mlmodel")
    knn = KnnClassifier.new(dimensions=2, default_label="none", k=1)
    knn.add_examples(np.eye(2), ["wave", "clap"])
    save(knn.spec, folder / "knn.mlspec")
    np.savez(folder / "new.npz", features=np.ones((3, 2), np.float32), label=np.array(["wave", "nod", "nod"]))


EXAMPLES = _examples()


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_help_example_runs(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _example_files(tmp_path)
    monkeypatch.chdir(tmp_path)
    words = EXAMPLES[name]
    assert words[0] == name
    result = invoke(*words)
    assert result.exit_code == 0, result.output
