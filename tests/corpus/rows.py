"""One row of the corpus table per exported model: does it import, does the import compute the
same function, how much of it is typed, and can its head (and the block before it) train.

Shared by the corpus tests (tests/corpus/) and the docs/corpus.md generator
(tools/corpus/report.py), so the table in the docs is exactly what the tests check.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort

from mlspec._proto import layers_pb2, model_pb2
from mlspec.builder import AdamParams, NetworkBuilder
from mlspec.builder.defaults import default_loss_input
from mlspec.convert import to_onnx
from mlspec.convert.backprop import backprop_layers
from mlspec.convert.importers import import_onnx
from mlspec.runtime import Trainer
from mlspec.spec import kinds
from mlspec.spec.errors import MlspecError
from mlspec.spec.kinds import ort_lacks_gradient

FORWARD_RTOL = 1e-5
"""Largest accepted |imported - original| / max(1, max|original|) over every tensor output, at
batch 2: relative to the output's scale, absolute for outputs below 1 (a detector's sigmoid map of
values near 1e-7 differs in its last float32 bits between two correct graphs)."""
BLOCK_KINDS = ("convolution", "inner_product", "embedding")
TRAIN_EXAMPLES = 4
TRAIN_EPOCHS = 4


def corpus_dir() -> Path | None:
    """The built corpus (tools/corpus/build.sh prints it), from $MLSPEC_CORPUS; None when unset."""
    value = os.environ.get("MLSPEC_CORPUS")
    return Path(value) if value else None


def corpus_models(directory: Path) -> list[str]:
    """Model names (file stems) of the corpus, sorted."""
    return sorted(path.name.removesuffix(".onnx") for path in directory.glob("*.onnx"))


@dataclass
class Row:
    model: str
    source: str
    imported: str = ""
    """"yes", or the import error."""
    forward_error: float | None = None
    typed: int = 0
    frozen: int = 0
    head: str = ""
    """"yes (layer)", or why the head cannot train."""
    block: str = ""
    """"yes (layers)", or why the head and the block before it cannot train."""

    @property
    def forward_ok(self) -> bool:
        return self.forward_error is not None and self.forward_error <= FORWARD_RTOL


def sidecar(directory: Path, model: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((directory / f"{model}.json").read_text())
    return data


def feeds(info: dict[str, Any], batch: int, seed: int = 0) -> dict[str, npt.NDArray[Any]]:
    """Random feeds for the sidecar's inputs with the batch axis set to `batch`."""
    rng = np.random.default_rng(seed)
    result: dict[str, npt.NDArray[Any]] = {}
    for feed in info["feeds"]:
        shape = [batch, *feed["shape"][1:]]
        if feed["dtype"] == "float32":
            result[feed["name"]] = rng.normal(size=shape).astype(np.float32)
        else:
            result[feed["name"]] = rng.integers(0, int(feed.get("high", 10)), size=shape).astype(
                feed["dtype"]
            )
    return result


def run(model: onnx.ModelProto | str, inputs: dict[str, npt.NDArray[Any]]) -> dict[str, Any]:
    source = model if isinstance(model, str) else model.SerializeToString()
    session = ort.InferenceSession(source, providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(names, inputs), strict=True))


def forward_error(path: Path, spec: model_pb2.Model, inputs: dict[str, npt.NDArray[Any]]) -> float:
    """Worst relative error over the original's tensor outputs (a ZipMap's maps are not tensors)."""
    expected = run(str(path), inputs)
    actual = run(to_onnx(spec), inputs)
    worst = 0.0
    for name, value in expected.items():
        if not isinstance(value, np.ndarray) or value.dtype.kind not in "fiu":
            continue
        got = np.asarray(actual[name], dtype=np.float64)
        want = value.astype(np.float64)
        if got.shape != want.shape:
            return float("inf")
        scale = max(float(np.abs(want).max(initial=0.0)), 1.0)
        worst = max(worst, float(np.abs(got - want).max(initial=0.0)) / scale)
    return worst


def _short(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= 240 else text[:237] + "..."


def trains(spec: model_pb2.Model, layers: list[str], info: dict[str, Any]) -> str:
    """Make `layers` updatable, train a few Adam epochs on random data; "yes" when the loss fell,
    "yes (portable backend)" when it took `--backend auto` to train.

    A chosen layer without a bias gets a zero one first (make-updatable --add-bias), as a user
    training a dynamo export's bias-less head would do. The default backend (onnxruntime-training)
    trains unless the backprop path holds an op only the portable backend differentiates
    (ConvTranspose); then the row trains as a user would after the default's refusal, with
    `--backend auto`, which picks the portable backend.
    """
    builder = NetworkBuilder.edit(spec)
    builder.make_updatable(layers, add_bias=True)
    loss_input = default_loss_input(builder.spec)
    if loss_input is None:
        return "no declared output to put a loss on"
    data = feeds(info, TRAIN_EXAMPLES, seed=1)
    with tempfile.TemporaryDirectory(prefix="mlspec-corpus-") as scratch:
        if builder.spec.HasField("classifier"):
            builder.set_loss("categorical_cross_entropy", loss_input)
            classifier = builder.spec.classifier
            labels: list[int | str] = [*classifier.int64_labels.values, *classifier.string_labels.values]
            target: npt.NDArray[Any] = np.array([labels[i % len(labels)] for i in range(TRAIN_EXAMPLES)])
        else:
            shape = run(to_onnx(builder.spec), data)[loss_input].shape  # a sigmoid keeps the shape
            builder.set_loss("mean_squared_error", _before_sigmoid(builder.spec, loss_input))
            target = np.random.default_rng(2).normal(size=shape).astype(np.float32)
        # One batch of every example per epoch: batch norm then sees the same batch statistics in
        # each epoch, so the training losses compare like with like.
        builder.set_optimizer(AdamParams(lr=1e-3, batch=TRAIN_EXAMPLES))
        builder.set_epochs(TRAIN_EPOCHS)
        on_path = backprop_layers(builder.spec)
        needs_auto = any(
            ort_lacks_gradient(layer) for layer in builder.spec.network.layers if layer.name in on_path
        )
        backend = "auto" if needs_auto else None
        with Trainer.from_spec(builder.spec, work_dir=scratch, backend=backend, shuffle=False) as trainer:
            losses = trainer.train((*data.values(), target)).epoch_losses
            taken = trainer.manifest.backend
    start, end = losses[0], losses[-1]
    if not end < start:
        return f"loss did not fall ({start:.4g} -> {end:.4g})"
    return f"yes ({taken} backend, --backend auto)" if needs_auto else "yes"


def _before_sigmoid(spec: model_pb2.Model, output: str) -> str:
    """A sigmoid map's logits (the sigmoid's input) in place of the map itself.

    PaddleOCR's shipped detector maps random images to a sigmoid saturated at 0 (at most 1e-4),
    where the loss's gradient is 1e-10 and no optimizer moves; its logits take the same gradient
    path through every layer before the sigmoid (mlspec make-updatable --loss-input names one).
    """
    sigmoid = layers_pb2.ActivationLayer.SIGMOID
    for layer in spec.network.layers:
        if (
            output in layer.outputs
            and layer.WhichOneof("kind") == "activation"
            and layer.activation.type == sigmoid
        ):
            return layer.inputs[0]
    return output


def evaluate_row(directory: Path, model: str) -> Row:
    info = sidecar(directory, model)
    path = directory / f"{model}.onnx"
    row = Row(model=model, source=info["source"])
    try:
        spec = import_onnx(path)
    except MlspecError as exc:
        row.imported = _short(exc)
        return row
    row.imported = "yes"
    try:
        row.forward_error = forward_error(path, spec, feeds(info, 2))
    except Exception as exc:  # an export ORT rejects is a finding of the row, not a crash
        row.imported = f"exported model does not run: {_short(exc)}"
    row.frozen = sum(layer.WhichOneof("kind") == "onnx_node" for layer in spec.network.layers)
    row.typed = len(spec.network.layers) - row.frozen
    blocks = [layer.name for layer in spec.network.layers if layer.WhichOneof("kind") in BLOCK_KINDS]
    if not blocks:
        row.head = row.block = f"no trainable layer ({', '.join(kinds.TRAINABLE_KINDS)})"
        return row
    row.head = _attempt(spec, blocks[-1:], info)
    row.block = _attempt(spec, blocks[-2:], info) if len(blocks) > 1 else "no second block"
    return row


def _attempt(spec: model_pb2.Model, layers: list[str], info: dict[str, Any]) -> str:
    try:
        result = trains(spec, layers, info)
    except MlspecError as exc:
        return _short(exc)
    except Exception as exc:  # onnxruntime failed on the graph: a finding of the row, not a crash
        detail = str(exc).rsplit("Status Message:", 1)[-1]
        return _short(RuntimeError(f"onnxruntime failed: {detail}"))
    if not result.startswith("yes"):
        return result
    how = result.removeprefix("yes").strip(" ()")
    return f"yes ({', '.join(layers)}{'; ' + how if how else ''})"


COLUMNS = (
    "Model",
    "Exported by",
    "Imports",
    "Forward error (batch 2)",
    "Typed / frozen layers",
    "Head trains",
    "Head + previous block trains",
)
_FORWARD_COLUMN = COLUMNS.index("Forward error (batch 2)")


def _mark(text: str) -> str:
    return f"✅ {text}" if text.startswith("yes") else f"❌ {text}" if text else "—"


def cells(row: Row) -> list[str]:
    """The row as the markdown table shows it (pipes in error text escaped)."""
    if row.forward_error is None:
        forward = "—"
    else:
        forward = f"{'✅' if row.forward_ok else '❌'} {row.forward_error:.1e}"
    layers = f"{row.typed} / {row.frozen}" if row.imported == "yes" else "—"
    values = [
        f"`{row.model}`",
        row.source,
        _mark(row.imported),
        forward,
        layers,
        _mark(row.head),
        _mark(row.block),
    ]
    return [value.replace("|", "\\|") for value in values]


def comparable(values: list[str]) -> list[str]:
    """Cells with the forward error reduced to pass/fail, so the table compares across machines."""
    result = list(values)
    result[_FORWARD_COLUMN] = result[_FORWARD_COLUMN][:1]
    return result


def table_rows(markdown: str) -> dict[str, list[str]]:
    """Model name -> cells of the corpus table in docs/corpus.md."""
    rows: dict[str, list[str]] = {}
    for line in markdown.splitlines():
        if not line.startswith("| `"):
            continue
        values = [cell.strip() for cell in line.strip().strip("|").split(" | ")]
        rows[values[0].strip("`")] = values
    return rows


def render_table(rows: list[list[str]]) -> str:
    """The markdown table of rows given as cells (see `cells`)."""
    lines = ["| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"
