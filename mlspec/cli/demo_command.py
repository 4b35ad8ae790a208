"""`mlspec demo`: the personalisation flow end to end in well under a minute, files kept.

A glyph classifier that knows three digits is widened for two classes the user adds (user0 and
user1, drawn as 3 and 4), made updatable, validated, converted, trained with the same progress
display as `mlspec train`, evaluated through the exported inference model, and written back as
an updated spec. Every file it writes stays in the output directory so the user can go on with
the other commands (`mlspec inspect`, `mlspec train`, ...) on them.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mlspec._proto import model_pb2
from mlspec.cli.errors import echo_stdout, one_line_errors
from mlspec.cli.typer_app import app
from mlspec.spec.atomic import atomic_writer, write_bytes_atomic
from mlspec.spec.errors import MlspecError

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

GRID = 12
NOISE = 0.1
KNOWN = ("0", "1", "2")
ADDED = 2  # new classes user0, user1: the user's digits 3 and 4
TRAIN_PER_CLASS = 300
VAL_PER_CLASS = 100
SEED = 0
MAX_EPOCHS = 50
LEARNING_RATE = 0.01
BATCH, BATCH_SIZES = 16, (8, 16, 32)


def build_spec(epochs: int) -> model_pb2.Model:
    """Build the shipped classifier, widen it for the user's classes and make it updatable."""
    from mlspec.builder import AdamParams, NetworkBuilder

    builder = NetworkBuilder(class_labels=list(KNOWN), seed=SEED, name="mlspec-demo")
    builder.add_input("image", (1, GRID, GRID), short_description="a 12x12 drawing of a digit")
    builder.add_convolution("conv", "image", 8, (3, 3), padding="same")
    builder.add_batch_norm("bn", "conv")
    builder.add_activation("relu", "bn", "relu")
    builder.add_pooling("pool", "relu", "max", (2, 2))
    builder.add_flatten("flatten", "pool")
    builder.add_inner_product("classifier", "flatten", len(KNOWN))
    builder.add_softmax("probabilities", "classifier")
    builder.widen_classifier(len(KNOWN) + ADDED)  # placeholder labels user0, user1
    builder.make_updatable(["conv", "bn", "classifier"])
    builder.set_loss("categorical_cross_entropy", "probabilities")
    adam = AdamParams(lr=LEARNING_RATE, batch=BATCH)
    adam.set_batch(BATCH, BATCH_SIZES)
    builder.set_optimizer(adam)
    builder.set_epochs(epochs, (1, MAX_EPOCHS))
    builder.set_seed(SEED)
    return builder.spec


def user_examples(
    per_class: int, rng: np.random.Generator
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.str_]]:
    """Digit d is drawn for class label d (known classes) or user{d - 3} (the added ones)."""
    import numpy as np

    from mlspec.datasets import draw_glyphs

    labels = [*KNOWN, *(f"user{i}" for i in range(ADDED))]
    digits = np.repeat(np.arange(len(labels)), per_class)
    return draw_glyphs(digits, rng, grid=GRID, noise=NOISE), np.array(labels)[digits]


def inference_accuracy(
    spec: model_pb2.Model, images: npt.NDArray[np.float32], labels: npt.NDArray[np.str_]
) -> float:
    """Accuracy of the ONNX inference model, judged by the label it predicts."""
    import numpy as np

    from mlspec.backends.inference import run_inference
    from mlspec.convert import to_onnx

    outputs = run_inference(to_onnx(spec).SerializeToString(), {"image": images})
    predicted = outputs[spec.classifier.predicted_feature_name].astype(str)
    return float(np.mean(predicted == labels))


def fresh_directory() -> Path:
    return Path(tempfile.mkdtemp(prefix="mlspec-demo-"))


@app.command()
@one_line_errors
def demo(
    *,
    out: Annotated[
        Path | None,
        typer.Option("--out", help="Directory for the demo's files (default: a new temporary directory)."),
    ] = None,
    epochs: Annotated[int, typer.Option("--epochs", min=1, max=MAX_EPOCHS, help="Training epochs.")] = 10,
) -> None:
    """Run the personalisation flow end to end and keep every file it writes.

    Build a classifier, widen it for two new classes, make it updatable, validate, convert,
    train on the new examples, evaluate through the exported ONNX model and write the updated
    spec.

    Example: mlspec demo --out demo-files
    """
    import numpy as np
    from rich.console import Console

    from mlspec.backends import to_training_artifacts
    from mlspec.builder import inspect_model
    from mlspec.cli.train_display import TrainingDisplay
    from mlspec.convert import to_onnx
    from mlspec.runtime import Trainer
    from mlspec.spec import graph
    from mlspec.spec.io import save
    from mlspec.spec.validate import validate

    started = time.perf_counter()
    directory = out if out is not None else fresh_directory()
    if directory.exists() and any(directory.iterdir()):
        raise MlspecError(f"{directory}: is not empty; give --out a new or empty directory")
    directory.mkdir(parents=True, exist_ok=True)
    console = Console(file=sys.stdout, highlight=False)
    echo_stdout(f"mlspec demo: writing into {directory}")

    spec = build_spec(epochs)
    summary = inspect_model(spec)
    updatable = [layer["name"] for layer in summary["layers"] if layer["is_updatable"]]
    spec_path = directory / "updatable.mlspec"
    save(spec, spec_path)
    echo_stdout(
        f"1. built a {len(KNOWN)}-class glyph classifier and widened it to {len(KNOWN) + ADDED} classes "
        f"(labels {', '.join(map(str, graph.class_labels(spec)))})"
    )
    sizes = ", ".join(map(str, BATCH_SIZES))
    echo_stdout(
        f"2. made {', '.join(updatable)} updatable: cross-entropy, Adam lr {LEARNING_RATE}, "
        f"batch {BATCH} of {{{sizes}}}"
    )
    validate(spec)
    echo_stdout(f"3. validated, saved {spec_path}")
    artifacts = directory / "artifacts"
    manifest = to_training_artifacts(spec, artifacts)
    trained = len(manifest.trainable)
    echo_stdout(f"4. converted to ONNX Runtime training artifacts in {artifacts} ({trained} tensors train)")

    rng = np.random.default_rng(SEED)
    train_images, train_labels = user_examples(TRAIN_PER_CLASS, rng)
    val_images, val_labels = user_examples(VAL_PER_CLASS, rng)
    train_path, val_path = directory / "train.npz", directory / "val.npz"
    for path, images, labels in (
        (train_path, train_images, train_labels),
        (val_path, val_images, val_labels),
    ):
        with atomic_writer(path) as handle:
            np.savez(handle, image=images, label=labels)
    before = inference_accuracy(spec, val_images, val_labels)
    echo_stdout(
        f"5. training on {len(train_labels)} examples ({train_path}); validation accuracy now {before:.1%}"
    )
    with Trainer.from_artifacts(artifacts, spec=spec) as trainer:
        params = trainer.hyperparameters
        with TrainingDisplay(console, epochs=params.epochs) as display:
            result = trainer.train(train_path, validation=val_path, callbacks=[display])
        updated = trainer.updated_model()

    after = inference_accuracy(updated, val_images, val_labels)
    echo_stdout(
        f"6. evaluated the exported inference model on {len(val_labels)} validation drawings: "
        f"accuracy {before:.1%} -> {after:.1%} ({result.steps} steps)"
    )
    updated_path, onnx_path = directory / "updated.mlspec", directory / "updated.onnx"
    save(updated, updated_path)
    write_bytes_atomic(onnx_path, to_onnx(updated).SerializeToString())
    echo_stdout(f"7. wrote the updated spec {updated_path} and its inference model {onnx_path}")
    echo_stdout(f"done in {time.perf_counter() - started:.1f} s. Next: mlspec inspect {updated_path}")
