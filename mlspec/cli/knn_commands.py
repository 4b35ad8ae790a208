"""Commands that update a k-NN classifier: adding examples is its training, removing them its undo."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlspec.cli.errors import echo_stdout, one_line_errors
from mlspec.cli.options import InPlaceOpt, ModelArg, Names, OutputSpecOpt, check_output_file
from mlspec.cli.typer_app import app


@app.command("add-examples")
@one_line_errors
def add_examples_command(
    *,
    model: ModelArg,
    data: Annotated[
        Path, typer.Option("--data", help="Examples keyed by the model's input names and the label.")
    ],
    output: OutputSpecOpt,
    label_name: Annotated[str, typer.Option("--label-name", help="The data's label key.")] = "label",
    in_place: InPlaceOpt = False,
) -> None:
    """Store new examples in a k-NN classifier, through its feature extractor; new labels join the set.

    Example: mlspec add-examples knn.mlspec --data new.npz -o knn-updated.mlspec
    """
    from mlspec.runtime.knn import add_examples  # the runtime loads onnx and onnxruntime
    from mlspec.spec import knn as spec_knn
    from mlspec.spec.io import load, save

    check_output_file(output, inputs=(model, data), in_place=in_place)
    spec = load(model)
    spec_knn.require_knn(spec, f"{model}: add-examples")
    before = spec_knn.example_count(spec)
    updated = add_examples(spec, data, label_name=label_name)
    save(updated, output)
    labels = spec_knn.label_values(updated)
    echo_stdout(
        f"wrote {output}: {spec_knn.example_count(updated) - before} examples added, "
        f"{spec_knn.example_count(updated)} stored, {len(labels)} labels"
    )


@app.command("remove-examples")
@one_line_errors
def remove_examples_command(
    *,
    model: ModelArg,
    labels: Annotated[
        Names, typer.Option("--labels", parser=Names.parse, metavar="A,B", help="Labels whose examples go.")
    ],
    output: OutputSpecOpt,
    in_place: InPlaceOpt = False,
) -> None:
    """Remove every stored example of the given labels from a k-NN classifier (the labels stay known).

    Example: mlspec remove-examples knn.mlspec --labels wave,clap -o knn-smaller.mlspec
    """
    from mlspec.runtime.knn import remove_examples
    from mlspec.spec import knn as spec_knn
    from mlspec.spec.io import load, save

    check_output_file(output, inputs=(model,), in_place=in_place)
    spec = load(model)
    spec_knn.require_knn(spec, f"{model}: remove-examples")
    wanted: list[str | int] = list(labels.items)
    if not spec_knn.has_string_labels(spec):
        try:
            wanted = [int(label) for label in labels.items]
        except ValueError:
            raise typer.BadParameter(f"{','.join(labels.items)!r}: this model has integer labels") from None
    updated, removed = remove_examples(spec, wanted)
    save(updated, output)
    echo_stdout(f"wrote {output}: {removed} examples removed, {spec_knn.example_count(updated)} stored")
