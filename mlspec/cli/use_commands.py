"""`mlspec evaluate` and `mlspec predict`: how good a model is on labelled data, and what it answers.

Both read data the way `train` does (.npz, CSV, or a folder of images) and run the model with
inference semantics. They load the runtime (and so ONNX Runtime) inside the command, so the
quick commands stay quick.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mlspec.cli.errors import echo_stdout, one_line_errors
from mlspec.cli.evaluate_report import text_report
from mlspec.cli.options import (
    DataFormatOpt,
    FeaturesOpt,
    LabelColumnOpt,
    ModelArg,
    check_output_file,
    data_file,
)
from mlspec.cli.typer_app import app
from mlspec.spec.atomic import write_bytes_atomic
from mlspec.spec.errors import MlspecError

if TYPE_CHECKING:
    import numpy.typing as npt

DataOpt = Annotated[
    Path, typer.Option("--data", help="Data: .npz, .csv, or a folder with one subfolder per class.")
]


@app.command()
@one_line_errors
def evaluate(
    *,
    model: ModelArg,
    data: DataOpt,
    data_format: DataFormatOpt = None,
    features: FeaturesOpt = None,
    label_column: LabelColumnOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Mean loss, accuracy, per-class accuracy and the confusion matrix on labelled data.

    The loss is the spec's training loss with inference semantics (dropout off, batch norm on
    running statistics), averaged over every example. Confusion-matrix rows are true classes,
    columns predicted ones; the text fits the terminal (numbered or split into column blocks
    when labels or classes are many; beyond 20 classes, the most frequent confusions), and
    --json always holds the whole matrix.

    Example: mlspec evaluate updatable.mlspec --data val.npz
    """
    from mlspec.runtime import Trainer

    source = data_file(data, data_format, features, label_column)
    with Trainer.from_spec(model) as trainer:
        result = trainer.evaluate(source)
        labels = [str(label) for label in trainer.manifest.class_labels]
    report: dict[str, Any] = {"model": str(model), "data": str(data), "examples": result.count}
    report["loss"] = result.loss
    report["accuracy"] = result.accuracy
    if result.confusion is not None:
        report["classes"] = labels
        report["per_class_accuracy"] = dict(zip(labels, result.per_class_accuracy(), strict=True))
        report["confusion_matrix"] = result.confusion
    if as_json:
        echo_stdout(json.dumps(report, indent=2))
        return
    for line in text_report(report):
        echo_stdout(line)


@app.command()
@one_line_errors
def predict(
    *,
    model: ModelArg,
    data: DataOpt,
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the predictions CSV.")],
    top: Annotated[
        int | None, typer.Option("--top", min=1, help="Write only the K most probable classes per example.")
    ] = None,
    data_format: DataFormatOpt = None,
    features: FeaturesOpt = None,
) -> None:
    """Write the model's answer for every example to a CSV, in the order the data lists them.

    A classifier gets one row per example: its index (and file, for images), the predicted label
    and the probability of every class (or, with --top K, the K most probable labels and their
    probabilities). Other models get their output values. Labels in the data, if any, are
    ignored. An image folder is listed class folder by class folder, files sorted by name. The
    model need not be updatable: a model just imported answers as it came.

    Example: mlspec predict updatable.mlspec --data val.npz -o predictions.csv --top 2
    """
    from mlspec.runtime.prediction import predict_spec
    from mlspec.spec.graph import class_labels
    from mlspec.spec.io import load

    check_output_file(output, inputs=(model, data))
    source = data_file(data, data_format, features, None)
    spec = load(model)
    outputs = predict_spec(spec, source)
    info = spec.classifier
    probabilities = outputs.get(info.predicted_probabilities_name) if spec.HasField("classifier") else None
    labels = [str(label) for label in class_labels(spec)]
    if probabilities is not None and labels:
        header, rows = _class_rows(outputs[info.predicted_feature_name], probabilities, labels, top)
    else:
        if top is not None:
            raise MlspecError(f"{model}: --top needs a classifier; this model has no class probabilities")
        header, rows = _value_rows(outputs)
    if source.detected_format() == "images":
        _name_files(header, rows, data, spec)
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    write_bytes_atomic(output, text.getvalue().encode())
    echo_stdout(f"wrote {output}: {len(rows)} predictions")


def _name_files(header: list[str], rows: list[list[object]], folder: Path, spec: Any) -> None:
    """Put each image's path in the folder beside its index: the rows follow the same listing."""
    from mlspec.runtime.features import spec_input_features
    from mlspec.runtime.images import ImageFolder

    files = ImageFolder(folder, spec_input_features(spec)).files
    header.insert(1, "file")
    for row, path in zip(rows, files, strict=True):
        row.insert(1, path.relative_to(folder).as_posix())


def _class_rows(
    predicted: npt.NDArray[Any], probabilities: npt.NDArray[Any], labels: list[str], top: int | None
) -> tuple[list[str], list[list[object]]]:
    import numpy as np

    if top is None:
        header = ["index", "label", *(f"p_{label}" for label in labels)]
        rows = [
            [index, str(label), *(f"{p:.6g}" for p in row)]
            for index, (label, row) in enumerate(zip(predicted, probabilities, strict=True))
        ]
        return header, rows
    k = min(top, len(labels))
    order = np.argsort(-probabilities, axis=1, kind="stable")[:, :k]
    header = ["index", "label"]
    for rank in range(1, k + 1):
        header += [f"top{rank}", f"p{rank}"]
    rows = []
    for index, (label, ranks, row) in enumerate(zip(predicted, order, probabilities, strict=True)):
        cells: list[object] = [index, str(label)]
        for position in ranks:
            cells += [labels[position], f"{row[position]:.6g}"]
        rows.append(cells)
    return header, rows


def _value_rows(outputs: dict[str, npt.NDArray[Any]]) -> tuple[list[str], list[list[object]]]:
    import numpy as np

    header = ["index"]
    columns: list[npt.NDArray[Any]] = []
    for name, value in outputs.items():
        flat = value.reshape(len(value), -1)
        header += [name] if flat.shape[1] == 1 else [f"{name}_{i}" for i in range(flat.shape[1])]
        columns.append(flat)
    table = np.concatenate([c.astype(str) if c.dtype.kind in "US" else c for c in columns], axis=1)
    return header, [[index, *(str(v) for v in row)] for index, row in enumerate(table.tolist())]
