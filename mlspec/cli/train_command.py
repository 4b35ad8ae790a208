"""`mlspec train`: train a spec on .npz data and write the updated spec.

Ctrl-C cancels after the step in flight. A cancelled run saves a checkpoint when
--checkpoint-dir is given, and writes nothing to -o: a partial model saved under the name of
the finished one would be mistaken for it, while the checkpoint keeps every completed step and
`--resume` finishes the run exactly as an uninterrupted one would.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from mlspec.cli.errors import EXIT_INTERRUPTED, echo_stdout, fail, one_line_errors
from mlspec.cli.options import (
    BackendOpt,
    Beta1Opt,
    Beta2Opt,
    ClipNormOpt,
    ClipValueOpt,
    DataFormatOpt,
    EpsOpt,
    FeaturesOpt,
    LabelColumnOpt,
    ModelArg,
    MomentumOpt,
    NesterovOpt,
    ShuffleOpt,
    WeightDecayOpt,
    check_output_file,
    data_file,
    note_large_graph,
)
from mlspec.cli.typer_app import app

if TYPE_CHECKING:
    from mlspec.runtime import Trainer, TrainingResult


FLAG_WORDING = {
    "learning_rate": ("--lr", "mlspec make-updatable --lr-range LO:HI"),
    "mini_batch_size": ("--batch-size", "mlspec make-updatable --batch-sizes A,B"),
    "epochs": ("--epochs", "mlspec make-updatable --epochs-range LO:HI"),
    **{
        name: (f"--{name.replace('_', '-')}", "")
        for name in ("seed", "momentum", "beta1", "beta2", "eps", "weight_decay", "clip_norm", "clip_value")
    },
}


@app.command()
@one_line_errors
def train(
    *,
    model: ModelArg,
    data: Annotated[
        Path, typer.Option("--data", help="Training data: .npz, .csv, or a folder of class subfolders.")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Where to write the updated spec.")],
    val: Annotated[Path | None, typer.Option("--val", help="Validation data (same format).")] = None,
    data_format: DataFormatOpt = None,
    features: FeaturesOpt = None,
    label_column: LabelColumnOpt = None,
    epochs: Annotated[
        int | None, typer.Option("--epochs", help="Epochs (within the spec's allowed).")
    ] = None,
    lr: Annotated[
        float | None, typer.Option("--lr", help="Learning rate (within the spec's allowed).")
    ] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", help="Mini-batch size.")] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Seed for shuffling and dropout.")] = None,
    shuffle: ShuffleOpt = None,
    momentum: MomentumOpt = None,
    nesterov: NesterovOpt = None,
    beta1: Beta1Opt = None,
    beta2: Beta2Opt = None,
    eps: EpsOpt = None,
    weight_decay: WeightDecayOpt = None,
    clip_norm: ClipNormOpt = None,
    clip_value: ClipValueOpt = None,
    checkpoint_dir: Annotated[
        Path | None, typer.Option("--checkpoint-dir", help="Save checkpoints (and on Ctrl-C) here.")
    ] = None,
    checkpoint_every: Annotated[
        int, typer.Option("--checkpoint-every", min=1, help="Epochs between checkpoints.")
    ] = 1,
    resume: Annotated[bool, typer.Option("--resume", help="Continue from the newest checkpoint.")] = False,
    backend: BackendOpt = None,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Draw loss curves here (needs matplotlib).")
    ] = None,
    feature_cache: Annotated[
        bool,
        typer.Option(
            "--feature-cache/--no-feature-cache",
            help="Run the frozen layers in front of the updatable ones once per example, not per epoch.",
        ),
    ] = True,
    augment: Annotated[
        bool, typer.Option("--augment/--no-augment", help="Apply the spec's image augmentation.")
    ] = True,
) -> None:
    """Train the updatable layers and write the updated spec; the input is never changed.

    Data is an .npz keyed by the model's feature names, a CSV with a header (--features,
    --label-column), or a folder with one subfolder of images per class label.
    Overrides are checked against the values the spec allows. Labels may be class names or
    indices. Ctrl-C stops after the current step; with --checkpoint-dir the work is saved and
    --resume continues it (a second Ctrl-C aborts at once). Nothing is written to -o unless
    training completes. When only layers behind frozen ones train, the frozen front runs once
    per example and the rest trains on its stored output (--no-feature-cache: every epoch).

    Example: mlspec train updatable.mlspec --data train.npz --val val.npz --epochs 5 -o updated.mlspec
    """
    from rich.console import Console

    from mlspec.cli.train_display import (
        TrainingDisplay,
        cancel_on_interrupt,
        check_plot_format,
        draw_loss_plot,
        plotting_available,
    )
    from mlspec.runtime import Trainer
    from mlspec.runtime.hyperparams import table_from_spec
    from mlspec.spec.io import load

    if resume and checkpoint_dir is None:
        raise typer.BadParameter("--resume needs --checkpoint-dir, the directory holding the checkpoints")
    inputs = (model, data) if val is None else (model, data, val)
    check_output_file(output, inputs=inputs)
    if plot is not None:
        check_output_file(plot, inputs=(*inputs, output), option="--plot")
        if plotting_available():
            check_plot_format(plot)
        else:
            typer.echo(
                "note: --plot needs matplotlib, which is not installed (pip install 'mlspec[plot]'); "
                "training without a plot",
                err=True,
            )
    given = {
        "epochs": epochs,
        "learning_rate": lr,
        "mini_batch_size": batch_size,
        "seed": seed,
        "shuffle": shuffle,
        "momentum": momentum,
        "nesterov": nesterov,
        "beta1": beta1,
        "beta2": beta2,
        "eps": eps,
        "weight_decay": weight_decay,
        "clip_norm": clip_norm,
        "clip_value": clip_value,
    }
    overrides: dict[str, Any] = {name: value for name, value in given.items() if value is not None}
    training = data_file(data, data_format, features, label_column)
    validation = data_file(val, data_format, features, label_column) if val is not None else None
    console = Console(file=sys.stdout, highlight=False)
    # Refusals name train's flags and the make-updatable option that widens each, not the spec's
    # field names; checked here, before any conversion work.
    spec = load(model)
    table_from_spec(spec).resolve(overrides, source=str(model), wording=FLAG_WORDING)
    note_large_graph(len(spec.network.layers), backend)
    with Trainer.from_spec(
        model,
        backend=backend.value if backend is not None else None,
        feature_cache=feature_cache,
        **overrides,
    ) as trainer:
        params = trainer.hyperparameters
        echo_stdout(
            f"training {model} on {data}: {params.optimizer}, {params.epochs} epochs, "
            f"batch {params.mini_batch_size}, learning rate {params.learning_rate:g}"
        )
        if validation is not None:
            before = trainer.evaluate(validation)
            shown = f", accuracy {before.accuracy:.4f}" if before.accuracy is not None else ""
            echo_stdout(f"before training: validation loss {before.loss:.4f}{shown}")
        display = TrainingDisplay(console, epochs=params.epochs)
        with display, cancel_on_interrupt(trainer):
            result = trainer.train(
                training,
                validation=validation,
                callbacks=[display],
                checkpoint_dir=checkpoint_dir,
                checkpoint_every=checkpoint_every,
                resume=resume,
                augment=augment,
            )
        echo_stdout(f"feature cache: {trainer.feature_cache_note}")
        if result.status != "completed":
            raise _cancelled(trainer, result, checkpoint_dir, output, params.epochs)
        if plot is not None and plotting_available():
            draw_loss_plot(plot, result)
            echo_stdout(f"wrote the loss plot to {plot}")
        trainer.save(output)
    losses = result.epoch_losses
    change = f"mean loss {losses[0]:.4f} -> {losses[-1]:.4f}" if losses else "no epochs run"
    epochs_run = f"{result.epochs_completed} epoch{'s' if result.epochs_completed != 1 else ''}"
    echo_stdout(f"wrote {output}: {epochs_run}, {result.steps} steps, {change}")


def _cancelled(
    trainer: Trainer, result: TrainingResult, checkpoint_dir: Path | None, output: Path, epochs: int
) -> typer.Exit:
    where = f"training cancelled in epoch {result.epochs_completed + 1}/{epochs} after {result.steps} steps"
    if checkpoint_dir is None:
        kept = "the progress is lost (pass --checkpoint-dir to keep it)"
    else:
        trainer.save_checkpoint(checkpoint_dir)
        kept = f"checkpoint saved in {checkpoint_dir}; rerun with --resume to continue"
    return fail(f"{where}; {kept}; nothing written to {output}", EXIT_INTERRUPTED)
