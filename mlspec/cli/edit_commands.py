"""Model surgery commands: widen a classifier for new classes, redraw a layer's weights."""

from __future__ import annotations

from enum import Enum
from typing import TYPE_CHECKING, Annotated

import typer

from mlspec.cli.errors import echo_stdout, one_line_errors
from mlspec.cli.options import InPlaceOpt, ModelArg, Names, OutputSpecOpt, SeedOpt, check_output_file
from mlspec.cli.typer_app import app
from mlspec.spec.errors import MlspecError, layer_ref

if TYPE_CHECKING:
    from mlspec.builder.initializers import InitName


class Init(str, Enum):
    """The builder's initialisers by their command-line names (constant needs a value: use zeros)."""

    zeros = "zeros"
    kaiming_uniform = "kaiming-uniform"
    kaiming_normal = "kaiming-normal"
    xavier_uniform = "xavier-uniform"
    xavier_normal = "xavier-normal"
    normal = "normal"

    def builder_name(self) -> InitName:
        return self.value.replace("-", "_")  # type: ignore[return-value]


LayerOpt = Annotated[str, typer.Option("--layer", help="Name of the layer to change.")]


@app.command("widen-classifier")
@one_line_errors
def widen_classifier(
    *,
    model: ModelArg,
    output: OutputSpecOpt,
    classes: Annotated[int, typer.Option("--classes", min=2, help="The new number of classes.")],
    layer: Annotated[
        str | None, typer.Option("--layer", help="The layer producing the logits (default: found for you).")
    ] = None,
    labels: Annotated[
        Names | None,
        typer.Option(
            "--labels",
            parser=Names.parse,
            metavar="A,B",
            help="Labels of the new classes (default: user0, ...).",
        ),
    ] = None,
    init: Annotated[Init, typer.Option("--init", help="How to fill the new rows.")] = Init.zeros,
    seed: SeedOpt = None,
    in_place: InPlaceOpt = False,
) -> None:
    """Give a classifier more classes: old rows stay bit for bit, new rows start as --init.

    The class labels grow too, with --labels or placeholders user0, user1, ...

    Example: mlspec widen-classifier classifier.mlspec --layer fc --classes 5 --labels dog,owl -o wider.mlspec
    """
    from mlspec.builder import NetworkBuilder
    from mlspec.spec import graph
    from mlspec.spec.io import load, save

    check_output_file(output, inputs=(model,), in_place=in_place)
    spec = load(model)
    builder = NetworkBuilder.edit(spec)
    head = builder.classifier_layer()
    if layer is not None and layer != head:
        graph.find_layer(spec, layer)  # an unknown name gets the list of layers
        raise MlspecError(
            f'{layer_ref(layer)} does not produce the class probabilities; the classifier layer is "{head}"'
        )
    old = len(graph.class_labels(spec))
    label_values = _typed_labels(graph.class_labels(spec), labels.items) if labels else None
    builder.widen(head, classes, init=init.builder_name(), seed=seed, labels=label_values)
    save(builder.spec, output)
    added = graph.class_labels(builder.spec)[old:]
    echo_stdout(f"wrote {output}: {head} widened from {old} to {classes} classes; new labels: {_join(added)}")


@app.command()
@one_line_errors
def reinit(
    *,
    model: ModelArg,
    output: OutputSpecOpt,
    layer: LayerOpt,
    init: Annotated[
        Init | None,
        typer.Option("--init", help="Initialiser (default: the kind's own, kaiming-uniform for dense)."),
    ] = None,
    seed: SeedOpt = None,
    in_place: InPlaceOpt = False,
) -> None:
    """Redraw a layer's weights (normalisation layers return to gamma 1, beta 0).

    Example: mlspec reinit classifier.mlspec --layer fc --init kaiming-uniform --seed 7 -o fresh.mlspec
    """
    from mlspec.builder import NetworkBuilder
    from mlspec.spec.io import load, save

    check_output_file(output, inputs=(model,), in_place=in_place)
    spec = load(model)
    builder = NetworkBuilder.edit(spec)
    builder.reinit(layer, init.builder_name() if init is not None else None, seed=seed)
    save(builder.spec, output)
    echo_stdout(f"wrote {output}: {layer_ref(layer)} reinitialised")


def _typed_labels(current: list[str] | list[int], given: list[str]) -> list[str] | list[int]:
    """New labels in the type the classifier already uses (int labels stay ints)."""
    if not current or isinstance(current[0], str):
        return given
    try:
        return [int(label) for label in given]
    except ValueError:
        raise MlspecError(
            f"--labels {','.join(given)}: this classifier has integer labels; give integers"
        ) from None


def _join(labels: list[str] | list[int]) -> str:
    return ", ".join(str(label) for label in labels) or "(none)"
