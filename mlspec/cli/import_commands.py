"""Commands that bring existing models in as specs: ONNX files and Core ML .mlmodel files.

The imported spec is validated before it is written, so a spec on disk always loads and converts.
An ONNX import starts with every weight frozen and a Core ML import keeps the model's own
updatable layers; either way the closing line says what trains, or how to choose it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from mlspec.cli import image_options as image_opts
from mlspec.cli.errors import echo_stdout, one_line_errors
from mlspec.cli.options import Names, check_output_file
from mlspec.cli.typer_app import app

if TYPE_CHECKING:
    from mlspec._proto import model_pb2

OutputOpt = Annotated[Path, typer.Option("--output", "-o", help="The spec to write (.mlspec or .pbtxt).")]


@app.command("import-onnx")
@one_line_errors
def import_onnx_command(
    *,
    source: Annotated[Path, typer.Argument(help="The ONNX model (.onnx).", show_default=False)],
    output: OutputOpt,
    labels: Annotated[
        Names | None,
        typer.Option(
            "--labels",
            parser=Names.parse,
            metavar="A,B",
            help="Class labels, for a classifier: a model ending in softmax, or in logits or log_softmax "
            "as PyTorch models do (a softmax is added). All-integer labels (1,2,3) are integer class "
            "labels, not indices.",
        ),
    ] = None,
    image_input: image_opts.ImageInputOpt = None,
    color_layout: image_opts.ColorLayoutOpt = None,
    scale: image_opts.ScaleOpt = None,
    bias: image_opts.BiasOpt = None,
    mean: image_opts.MeanOpt = None,
    std: image_opts.StdOpt = None,
) -> None:
    """Import an ONNX model as an editable spec; graph input and output names are kept.

    --image-input declares an input an image, as set-image-input does: data then gives pixels,
    which the runtime resizes and preprocesses (for torchvision's Normalize after ToTensor:
    --scale 1/255 --mean ... --std ...).

    Example: mlspec import-onnx cnn.onnx -o img.mlspec --image-input image --scale 1/255 --mean 0.5 --std 0.25
    """
    from mlspec.convert.importers import import_onnx

    image = image_opts.ImageOptions(color_layout, scale, bias, mean, std)
    image_opts.check_image_options(image_input, image)
    check_output_file(output, inputs=(source,))
    spec = import_onnx(source, labels=labels.items if labels else None)
    declared = None
    if image_input is not None:
        from mlspec.builder import NetworkBuilder

        builder = NetworkBuilder.edit(spec)
        declared = image_opts.declare_image_input(builder, image_input, image)
        spec = builder.spec
    _write(spec, output, [declared] if declared else [])


@app.command("import-coreml")
@one_line_errors
def import_coreml_command(
    *,
    source: Annotated[Path, typer.Argument(help="The Core ML model (.mlmodel).", show_default=False)],
    output: OutputOpt,
) -> None:
    """Import a Core ML NeuralNetwork .mlmodel (updatable settings included) as a spec.

    Needs the optional extra: pip install 'mlspec[coreml]'.

    Example: mlspec import-coreml MNIST.mlmodel -o mnist.mlspec
    """
    from mlspec.convert.importers import import_coreml

    check_output_file(output, inputs=(source,))
    _write(import_coreml(source), output)


def _write(spec: model_pb2.Model, output: Path, notes: list[str] | None = None) -> None:
    from mlspec.spec.io import save
    from mlspec.spec.validate import validate

    validate(spec)
    save(spec, output)
    kinds = [layer.WhichOneof("kind") for layer in spec.network.layers]
    frozen = kinds.count("onnx_node")
    updatable = [layer.name for layer in spec.network.layers if layer.is_updatable]
    echo_stdout(f"wrote {output}: {len(kinds)} layers ({frozen} kept as frozen ONNX nodes)")
    for note in notes or []:
        echo_stdout(f"  {note}")
    if updatable:
        echo_stdout(f"  updatable layers: {', '.join(updatable)}")
    else:
        echo_stdout(f"  nothing trains yet; next: mlspec make-updatable {output} -o updatable.mlspec")
