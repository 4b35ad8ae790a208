"""The README's command-line walkthrough runs verbatim, in a shell, on files named as it names them.

Each command of the ```bash block under "The command line" runs as printed (continuation lines
joined, comments left to the shell) through the `mlspec` installed beside this interpreter, so
the same test checks the default backend where onnxruntime-training is installed and on Python
3.13, where it is not (tools/ci/py313.sh). The inputs it names are made here: an ONNX classifier
with three outputs, 10-class data for the widened model and a k-NN spec holding "wave".
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

from mlspec.builder import NetworkBuilder
from mlspec.builder.knn import KnnClassifier
from mlspec.convert import to_onnx
from mlspec.reference import evaluate
from mlspec.spec import graph
from mlspec.spec import knn as spec_knn
from mlspec.spec.io import load, save

ROOT = Path(__file__).resolve().parents[1]
FEATURES = 6
FLOWER = sys.version_info >= (3, 11)
"""Flower 1.42 needs Python 3.11 or later (pyproject's marker): on 3.10 `federate` must refuse."""


def walkthrough() -> list[str]:
    """The commands of the README's command-line block, continuation lines joined."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text.split("## The command line", 1)[1]
    block = re.search(r"```bash\n(.*?)```", section, flags=re.DOTALL)
    assert block is not None, "README: no bash block under 'The command line'"
    return [
        command.strip() for command in block.group(1).replace("\\\n", " ").splitlines() if command.strip()
    ]


def _inputs(folder: Path) -> None:
    builder = NetworkBuilder(class_labels=["a", "b", "c"], seed=0)
    builder.add_input("x", [FEATURES])
    builder.add_inner_product("hidden", "x", 16)
    builder.add_activation("relu", "hidden", "relu")
    builder.add_inner_product("head", "relu", 3)
    builder.add_softmax("probabilities", "head")
    (folder / "model.onnx").write_bytes(to_onnx(builder.spec).SerializeToString())
    labels = ["rock", "paper", "scissors", *(f"user{i}" for i in range(7))]
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 3, (len(labels), FEATURES))
    for name, count in (("train", 400), ("val", 100)):
        classes = rng.integers(0, len(labels), count)
        x = (centres[classes] + rng.normal(0, 0.5, (count, FEATURES))).astype(np.float32)
        np.savez(folder / f"{name}.npz", x=x, label=np.array(labels)[classes])
    knn = KnnClassifier.new(dimensions=2, default_label="none", k=1)
    knn.add_examples(np.eye(2), ["clap", "nod"])
    save(knn.spec, folder / "knn.mlspec")
    np.savez(
        folder / "new.npz", features=np.ones((3, 2), np.float32), label=np.array(["wave", "nod", "wave"])
    )


def test_readme_command_line_walkthrough_runs_verbatim(tmp_path: Path) -> None:
    commands = walkthrough()
    assert len(commands) >= 10 and all(command.startswith("mlspec ") for command in commands)
    _inputs(tmp_path)
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    for command in commands:
        result = subprocess.run(
            ["bash", "-c", command],
            check=False,
            cwd=tmp_path,
            env=environment,
            capture_output=True,
            text=True,
            timeout=900,  # federate starts Ray: minutes on a loaded 2-core machine
        )
        if command.startswith("mlspec federate") and not FLOWER:
            assert result.returncode == 1 and "Python 3.11 or later" in result.stderr, result.stderr
            continue
        assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    # What the walkthrough promises, judged by the numpy reference rather than the runtime.
    trained, updatable = load(tmp_path / "trained.mlspec"), load(tmp_path / "updatable.mlspec")
    assert (
        graph.class_labels(trained)[:3] == ["rock", "paper", "scissors"]
        and len(graph.class_labels(trained)) == 10
    )
    data = np.load(tmp_path / "val.npz")
    probabilities = trained.classifier.predicted_probabilities_name
    labels = graph.class_labels(trained)
    before = evaluate(updatable, {"x": data["x"]})[probabilities]
    after = evaluate(trained, {"x": data["x"]})[probabilities]
    truth = np.array([labels.index(label) for label in data["label"]])
    assert np.mean(np.argmax(after, axis=1) == truth) > np.mean(np.argmax(before, axis=1) == truth) + 0.2
    assert (tmp_path / "artifacts" / "manifest.json").is_file() and (tmp_path / "trained.onnx").is_file()
    assert (tmp_path / "Updatable.mlmodel").is_file()
    assert (tmp_path / "global.mlspec").is_file() == FLOWER
    assert any((tmp_path / "ckpt").iterdir())
    remaining = load(tmp_path / "knn3.mlspec")
    names = spec_knn.label_values(remaining)
    assert sorted(names[i] for i in spec_knn.example_labels(remaining)) == ["clap", "nod", "nod"]
