"""Graph surgery from the command line: the builder's narrow, insert, remove, replace, rename and
label edits, and declaring an input an image.

Each command is one builder call, so it is all or nothing: the builder refuses an edit that would
leave the spec invalid and names the layer or field, and the output is written atomically only
after the edit succeeded (the input file is never touched unless --in-place is given).

A new layer is described as in Python (`insert_after(anchor, kind, name, **params)`): `--kind`
picks the `add_<kind>` method and each `--param key=value` is one keyword argument; values
read as a number, true/false, or a comma list of numbers (`kernel_shape=3,3`), else as text.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from mlspec.builder import NetworkBuilder

from mlspec.cli import image_options as image_opts
from mlspec.cli.errors import echo_stdout, one_line_errors
from mlspec.cli.options import InPlaceOpt, ModelArg, Names, OutputSpecOpt, check_output_file
from mlspec.cli.typer_app import app
from mlspec.spec.errors import MlspecError, layer_ref
from mlspec.spec.kind_names import PROTO_KINDS

LayerArg = Annotated[str, typer.Option("--layer", help="Name of the layer to change.")]
KindOpt = Annotated[str, typer.Option("--kind", help=f"Layer kind: {', '.join(PROTO_KINDS)}.")]
ParamOpt = Annotated[
    list[str] | None,
    typer.Option("--param", metavar="KEY=VALUE", help="A keyword of the builder's add_<kind> (repeatable)."),
]


def parse_params(given: list[str] | None) -> dict[str, Any]:
    """--param key=value pairs as keyword arguments (numbers, booleans and lists typed)."""
    params: dict[str, Any] = {}
    for item in given or []:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise MlspecError(f"--param {item!r}: expected KEY=VALUE, such as output_channels=8")
        params[key.strip()] = _value(text.strip())
    return params


def _value(text: str) -> Any:
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    if "," in text:
        parts = [_value(part.strip()) for part in text.split(",")]
        return tuple(parts)
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _edit(model: Any, output: Any, in_place: bool) -> NetworkBuilder:
    from mlspec.builder import NetworkBuilder
    from mlspec.spec.io import load

    check_output_file(output, inputs=(model,), in_place=in_place)
    return NetworkBuilder.edit(load(model))


@app.command("narrow-classifier")
@one_line_errors
def narrow_classifier(
    *,
    model: ModelArg,
    output: OutputSpecOpt,
    classes: Annotated[int, typer.Option("--classes", min=1, help="The new, smaller number of classes.")],
    in_place: InPlaceOpt = False,
) -> None:
    """Keep a classifier's first --classes classes: their rows and labels stay bit for bit.

    Example: mlspec narrow-classifier classifier.mlspec --classes 2 -o narrow.mlspec
    """
    from mlspec.spec.io import save

    builder = _edit(model, output, in_place)
    from mlspec.spec import graph

    head = builder.classifier_layer()
    labels = graph.class_labels(builder.spec)
    if not 1 <= classes < len(labels):
        raise MlspecError(
            f"--classes {classes}: {model} has {len(labels)} classes; give 1 to {len(labels) - 1}"
        )
    builder.narrow(head, classes)
    builder.set_class_labels(labels[:classes])
    save(builder.spec, output)
    dropped = ", ".join(str(label) for label in labels[classes:])
    echo_stdout(f"wrote {output}: {head} narrowed from {len(labels)} to {classes} classes; dropped {dropped}")


@app.command("insert-layer")
@one_line_errors
def insert_layer(
    *,
    model: ModelArg,
    output: OutputSpecOpt,
    name: Annotated[str, typer.Option("--name", help="Name of the new layer.")],
    kind: KindOpt,
    after: Annotated[str | None, typer.Option("--after", help="Insert reading this layer's output.")] = None,
    before: Annotated[
        str | None, typer.Option("--before", help="Insert in front of this layer's first input.")
    ] = None,
    param: ParamOpt = None,
    in_place: InPlaceOpt = False,
) -> None:
    """Insert a single-input layer after a layer (its readers then read the new layer) or before one.

    Example: mlspec insert-layer net.mlspec --after fc --kind dropout --name drop --param rate=0.2 -o o.mlspec
    """
    if (after is None) == (before is None):
        raise MlspecError("give exactly one of --after LAYER or --before LAYER")
    from mlspec.spec.io import save

    builder = _edit(model, output, in_place)
    if after is not None:
        builder.insert_after(after, kind, name, **parse_params(param))
    else:
        builder.insert_before(str(before), kind, name, **parse_params(param))
    save(builder.spec, output)
    where = f"after {layer_ref(after)}" if after is not None else f"before {layer_ref(str(before))}"
    echo_stdout(f"wrote {output}: inserted {layer_ref(name)} ({kind}) {where}")


@app.command("remove-layer")
@one_line_errors
def remove_layer(
    *, model: ModelArg, output: OutputSpecOpt, layer: LayerArg, in_place: InPlaceOpt = False
) -> None:
    """Remove a one-input, one-output layer; its readers read its input instead.

    Example: mlspec remove-layer classifier.mlspec --layer relu -o out.mlspec
    """
    from mlspec.spec.io import save

    builder = _edit(model, output, in_place)
    builder.remove_layer(layer)
    save(builder.spec, output)
    echo_stdout(f"wrote {output}: removed {layer_ref(layer)}")


@app.command("replace-layer")
@one_line_errors
def replace_layer(
    *,
    model: ModelArg,
    output: OutputSpecOpt,
    layer: LayerArg,
    kind: KindOpt,
    name: Annotated[
        str | None, typer.Option("--name", help="Name of the new layer (default: the old).")
    ] = None,
    param: ParamOpt = None,
    in_place: InPlaceOpt = False,
) -> None:
    """Put a new layer of --kind where a layer was, with its inputs and output (it starts frozen).

    Example: mlspec replace-layer net.mlspec --layer relu --kind activation --param activation=elu -o o.mlspec
    """
    from mlspec.spec.io import save

    builder = _edit(model, output, in_place)
    builder.replace_layer(layer, kind, new_name=name, **parse_params(param))
    save(builder.spec, output)
    echo_stdout(f"wrote {output}: {layer_ref(layer)} replaced by {layer_ref(name or layer)} ({kind})")


@app.command("rename-layer")
@one_line_errors
def rename_layer(
    *,
    model: ModelArg,
    output: OutputSpecOpt,
    layer: LayerArg,
    to: Annotated[str, typer.Option("--to", help="The new name.")],
    in_place: InPlaceOpt = False,
) -> None:
    """Rename a layer (an output tensor named like it is renamed everywhere it is read).

    Example: mlspec rename-layer classifier.mlspec --layer fc --to head -o out.mlspec
    """
    from mlspec.spec.io import save

    builder = _edit(model, output, in_place)
    builder.rename_layer(layer, to)
    save(builder.spec, output)
    echo_stdout(f'wrote {output}: {layer_ref(layer)} renamed to "{to}"')


@app.command("set-labels")
@one_line_errors
def set_labels(
    *,
    model: ModelArg,
    output: OutputSpecOpt,
    labels: Annotated[
        Names,
        typer.Option("--labels", parser=Names.parse, metavar="A,B", help="One label per class, in order."),
    ],
    in_place: InPlaceOpt = False,
) -> None:
    """Replace a classifier's class labels (whole numbers stay integer labels).

    Example: mlspec set-labels classifier.mlspec --labels rock,paper,scissors -o out.mlspec
    """
    from mlspec.spec.io import save

    builder = _edit(model, output, in_place)
    values: list[str] | list[int] = labels.items
    if all(item.lstrip("-").isdigit() for item in labels.items):
        values = [int(item) for item in labels.items]
    builder.set_class_labels(values)
    save(builder.spec, output)
    echo_stdout(f"wrote {output}: {len(values)} class labels: {', '.join(labels.items)}")


@app.command("set-image-input")
@one_line_errors
def set_image_input(
    *,
    model: ModelArg,
    output: OutputSpecOpt,
    input_name: Annotated[
        str, typer.Option("--input", "--image-input", help="The [batch, C, H, W] input to declare an image.")
    ],
    color_layout: image_opts.ColorLayoutOpt = None,
    scale: image_opts.ScaleOpt = None,
    bias: image_opts.BiasOpt = None,
    mean: image_opts.MeanOpt = None,
    std: image_opts.StdOpt = None,
    in_place: InPlaceOpt = False,
) -> None:
    """Declare an input an image: data then gives pixels (0..255, any size), which the runtime turns
    into the tensor as pixel * scale + bias, or (pixel * scale - mean) / std, per channel.

    Example: mlspec set-image-input cnn.mlspec --input image --scale 1/255 --mean 0.5 --std 0.25 -o img.mlspec
    """
    from mlspec.spec.io import save

    options = image_opts.ImageOptions(color_layout, scale, bias, mean, std)
    image_opts.check_image_options(input_name, options)
    builder = _edit(model, output, in_place)
    declared = image_opts.declare_image_input(builder, input_name, options)
    save(builder.spec, output)
    echo_stdout(f"wrote {output}: {declared}")
