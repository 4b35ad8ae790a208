"""Commands that turn a spec into ONNX: training artifacts, or the inference model alone."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlspec.cli.errors import echo_stdout, one_line_errors
from mlspec.cli.options import BackendOpt, ModelArg, check_output_file, note_large_graph, same_file
from mlspec.cli.typer_app import app
from mlspec.spec.atomic import write_bytes_atomic
from mlspec.spec.errors import MlspecError


@app.command()
@one_line_errors
def convert(
    *,
    model: ModelArg,
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Directory for the artifacts (new or mlspec's own).")
    ],
    backend: BackendOpt = None,
) -> None:
    """Write ONNX Runtime training artifacts, the inference model and manifest.json.

    The directory is filled all at once: a failed conversion leaves it as it was.

    Example: mlspec convert updatable.mlspec -o artifacts/ --backend portable
    """
    from mlspec.backends import to_training_artifacts
    from mlspec.spec.io import load

    if same_file(model, output):
        raise MlspecError(f"{output}: -o names the input spec; give a directory for the artifacts")
    spec = load(model)
    note_large_graph(len(spec.network.layers), backend)
    manifest = to_training_artifacts(spec, output, backend=backend.value if backend is not None else None)
    trained = ", ".join(ref.name for ref in manifest.trainable)
    if manifest.backend == "portable":
        echo_stdout(
            f"wrote {output}: portable step, eval and inference models, state.ckpt, loop.json, manifest.json"
        )
    else:
        echo_stdout(
            f"wrote {output}: training, eval, optimizer and inference models, checkpoint, manifest.json"
        )
    echo_stdout(f"  trains: {trained}")
    echo_stdout(f"  feeds: {', '.join(manifest.feed_order)}")


@app.command("export-onnx")
@one_line_errors
def export_onnx(
    *,
    model: ModelArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="The .onnx file to write.")],
) -> None:
    """Write the ONNX inference model: input names kept, classifier probabilities as [N, classes].

    Example: mlspec export-onnx classifier.mlspec -o classifier.onnx
    """
    from mlspec.spec.io import load
    from mlspec.spec.validate import validate

    check_output_file(output, inputs=(model,))
    from mlspec.convert import to_onnx

    spec = load(model)
    validate(spec)  # validate gates every command that reads a spec: no ONNX from a broken one
    onnx_model = to_onnx(spec)
    write_bytes_atomic(output, onnx_model.SerializeToString())
    inputs = ", ".join(value.name for value in onnx_model.graph.input)
    outputs = ", ".join(value.name for value in onnx_model.graph.output)
    echo_stdout(f"wrote {output}: inputs {inputs}; outputs {outputs}")


@app.command("export-coreml")
@one_line_errors
def export_coreml_command(
    *,
    model: ModelArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="The .mlmodel file to write.")],
    drop_unsupported: Annotated[
        bool,
        typer.Option(
            "--drop-unsupported",
            help="Leave out what Core ML lacks but the model can do without (clipping, schedules, "
            "AdamW without decay as Adam), and say what was left out.",
        ),
    ] = False,
) -> None:
    """Write a Core ML .mlmodel that MLUpdateTask trains: layers, labels, loss, optimizer, ranges.

    What Core ML cannot express is refused before anything is written, one error line each.
    Needs the optional extra: pip install 'mlspec[coreml]'.

    Example: mlspec export-coreml updatable.mlspec -o Updatable.mlmodel
    """
    from mlspec.convert.exporters import CoreMLExportError, write_coreml
    from mlspec.spec.io import load

    check_output_file(output, inputs=(model,))
    try:
        dropped = write_coreml(load(model), output, drop_unsupported=drop_unsupported)
    except CoreMLExportError as exc:
        for line in exc.lines()[:-1]:
            typer.echo(f"error: {line}", err=True)
        raise MlspecError(exc.lines()[-1]) from None
    echo_stdout(f"wrote {output}: Core ML model")
    for note in dropped:
        echo_stdout(f"  left out: {note}")
