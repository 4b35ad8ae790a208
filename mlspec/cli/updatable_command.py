"""`mlspec make-updatable`: choose what trains and how, in one command.

Settings the user leaves out keep what the spec already declares; only a spec that lacks a
setting gets mlspec's default (the last trainable layer, cross-entropy on a classifier's
probabilities, SGD, 10 epochs). Optimizer options replace the whole optimizer, so values not
given take the builder's defaults for the chosen kind.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Annotated

import typer

from mlspec._proto import model_pb2
from mlspec.cli import image_options as image_opts
from mlspec.cli.errors import echo_stdout, one_line_errors
from mlspec.cli.options import (
    Beta1Opt,
    Beta2Opt,
    ClipNormOpt,
    ClipValueOpt,
    EpsOpt,
    InPlaceOpt,
    Ints,
    ModelArg,
    MomentumOpt,
    Names,
    NesterovOpt,
    OutputSpecOpt,
    Range,
    ShuffleOpt,
    WeightDecayOpt,
    check_output_file,
)
from mlspec.cli.typer_app import app
from mlspec.spec.errors import MlspecError, layer_ref

if TYPE_CHECKING:
    from mlspec.builder import NetworkBuilder
    from mlspec.builder.params import OptimizerParams
    from mlspec.builder.updatable import LossKind


DEFAULT_EPOCHS = 10
# Allowed values when the user names none: wide enough that `train --lr/--batch-size/--epochs`
# work in the common case (coremltools would allow only the default), narrow enough to refuse
# typos such as --lr 10 or --epochs 100000. A spec pins tighter values with --lr-range,
# --batch-sizes and --epochs-range/--epochs-allowed.
WIDE_LR = (0.0, 1.0)
WIDE_BATCH = (1, 1024)
WIDE_EPOCHS = (1, 1000)


def _wide(default: float, bounds: tuple[float, float]) -> tuple[float, float] | None:
    """The wide range, stretched up to hold a larger default; None (just the default, which the
    builder then refuses by name) for a default below it."""
    return (bounds[0], max(bounds[1], default)) if default >= bounds[0] else None


class Loss(str, Enum):
    cross_entropy = "cross-entropy"
    mse = "mse"
    bce = "bce"
    l1 = "l1"
    huber = "huber"


LOSS_KINDS: dict[Loss, LossKind] = {
    Loss.cross_entropy: "categorical_cross_entropy",
    Loss.mse: "mean_squared_error",
    Loss.bce: "binary_cross_entropy",
    Loss.l1: "l1",
    Loss.huber: "huber",
}


class Optimizer(str, Enum):
    sgd = "sgd"
    adam = "adam"
    adamw = "adamw"


@dataclass(frozen=True)
class OptimizerOptions:
    """The optimizer options exactly as given (None: not given)."""

    lr: float | None
    lr_range: tuple[float, float] | None
    batch_size: int | None
    batch_sizes: list[int] | None
    momentum: float | None
    nesterov: bool | None
    beta1: float | None
    beta2: float | None
    eps: float | None
    weight_decay: float | None

    def any_given(self) -> bool:
        return any(value is not None for value in self.__dict__.values())


# FedProx's proximal strength (mlspec federate --strategy fedprox): absent, the spec fixes it at 0.
ProximalMuOpt = Annotated[float | None, typer.Option("--proximal-mu", help="Default FedProx mu.")]
_MU_RANGE_HELP = "Allowed FedProx mu values (default 0:1 when --proximal-mu is given)."
ProximalMuRangeOpt = Annotated[
    Range | None,
    typer.Option("--proximal-mu-range", parser=Range.parse, metavar="LO:HI", help=_MU_RANGE_HELP),
]


@app.command("make-updatable")
@one_line_errors
def make_updatable(
    *,
    model: ModelArg,
    output: OutputSpecOpt,
    layers: Annotated[
        Names | None,
        typer.Option(
            "--layers",
            parser=Names.parse,
            metavar="A,B",
            help="Layers to train, a,b: names, globs ('layer4.*') or head (the default: last trainable).",
        ),
    ] = None,
    add_bias: Annotated[
        bool,
        typer.Option(
            "--add-bias",
            help="Give a chosen dense/convolution layer that has no bias a zero one that trains.",
        ),
    ] = False,
    loss: Annotated[
        Loss | None, typer.Option("--loss", help="Loss (default on a classifier: cross-entropy).")
    ] = None,
    loss_input: Annotated[
        str | None, typer.Option("--loss-input", help="Tensor the loss reads (default: the probabilities).")
    ] = None,
    from_logits: Annotated[
        bool, typer.Option("--from-logits", help="Cross-entropy reads logits rather than softmax output.")
    ] = False,
    optimizer: Annotated[
        Optimizer | None, typer.Option("--optimizer", help="Optimizer kind (default: sgd).")
    ] = None,
    lr: Annotated[float | None, typer.Option("--lr", help="Default learning rate.")] = None,
    lr_range: Annotated[
        Range | None,
        typer.Option("--lr-range", parser=Range.parse, metavar="LO:HI", help="Allowed learning rates."),
    ] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", help="Default mini-batch size.")] = None,
    batch_sizes: Annotated[
        Ints | None,
        typer.Option(
            "--batch-sizes", parser=Ints.parse, metavar="A,B", help="Allowed mini-batch sizes, e.g. 1,2,8,16."
        ),
    ] = None,
    epochs: Annotated[int | None, typer.Option("--epochs", help="Default number of epochs.")] = None,
    epochs_allowed: Annotated[
        Ints | None,
        typer.Option(
            "--epochs-allowed",
            parser=Ints.parse,
            metavar="A,B",
            help="Allowed epochs as a set, e.g. 1,10,50.",
        ),
    ] = None,
    epochs_range: Annotated[
        Range | None,
        typer.Option(
            "--epochs-range", parser=Range.parse, metavar="LO:HI", help="Allowed epochs as a range."
        ),
    ] = None,
    momentum: MomentumOpt = None,
    nesterov: NesterovOpt = None,
    beta1: Beta1Opt = None,
    beta2: Beta2Opt = None,
    eps: EpsOpt = None,
    weight_decay: WeightDecayOpt = None,
    clip_norm: ClipNormOpt = None,
    clip_value: ClipValueOpt = None,
    shuffle: ShuffleOpt = None,
    seed: Annotated[
        int | None, typer.Option("--seed", help="Default training seed (shuffling, dropout).")
    ] = None,
    proximal_mu: ProximalMuOpt = None,
    proximal_mu_range: ProximalMuRangeOpt = None,
    flip: Annotated[bool, typer.Option("--augment-flip", help="Mirror image inputs at random.")] = False,
    crop: Annotated[
        int, typer.Option("--augment-crop", min=0, help="Random crop after padding by this many pixels.")
    ] = 0,
    rotation: Annotated[
        float, typer.Option("--augment-rotation", min=0, max=180, help="Random rotation up to +-degrees.")
    ] = 0.0,
    brightness: Annotated[
        float, typer.Option("--augment-brightness", min=0, max=1, help="Random brightness factor 1 +- this.")
    ] = 0.0,
    image_input: image_opts.ImageInputOpt = None,
    color_layout: image_opts.ColorLayoutOpt = None,
    scale: image_opts.ScaleOpt = None,
    bias: image_opts.BiasOpt = None,
    mean: image_opts.MeanOpt = None,
    std: image_opts.StdOpt = None,
    in_place: InPlaceOpt = False,
) -> None:
    """Mark layers updatable and set the loss, optimizer and run settings.

    Settings not given keep the spec's own; a spec without them gets the last trainable layer,
    cross-entropy on a classifier's probabilities, SGD and 10 epochs. Allowed values not given
    are wide (learning rate 0..1, batch size 1..1024, epochs 1..1000) so that train's flags
    work; pin them with --lr-range, --batch-sizes and --epochs-range or --epochs-allowed.
    A bias-less dense/convolution layer (torch's dynamo exporter drops all-zero biases) gets a
    zero bias with --add-bias; without it, the output says which chosen layers lack one.
    --image-input declares an input an image first, as set-image-input does (for torchvision's
    Normalize after ToTensor: --scale 1/255 --mean ... --std ...); --augment-* options declare
    seeded augmentation of image inputs (training only).

    Example: mlspec make-updatable classifier.mlspec -o updatable.mlspec --layers fc --epochs-range 1:50
    """
    from mlspec.builder import NetworkBuilder
    from mlspec.builder.defaults import last_trainable_layer, select_layers
    from mlspec.builder.updatable import biasless
    from mlspec.spec.io import load, save
    from mlspec.spec.validate import validate

    if epochs_allowed is not None and epochs_range is not None:
        raise typer.BadParameter("give either --epochs-allowed or --epochs-range, not both")
    if clip_norm is not None and clip_value is not None:
        raise typer.BadParameter("give either --clip-norm or --clip-value, not both")
    image = image_opts.ImageOptions(color_layout, scale, bias, mean, std)
    image_opts.check_image_options(image_input, image)
    check_output_file(output, inputs=(model,), in_place=in_place)
    spec = load(model)
    builder = NetworkBuilder.edit(spec)
    declared = (
        image_opts.declare_image_input(builder, image_input, image) if image_input is not None else None
    )
    chosen = select_layers(spec, layers.items) if layers else [last_trainable_layer(spec)]
    missing_bias = biasless(spec, chosen)
    builder.make_updatable(chosen, add_bias=add_bias)
    if loss is not None or loss_input is not None or from_logits or not spec.update_parameters.loss_layers:
        _set_loss(builder, model.name, loss, loss_input, from_logits)
    options = OptimizerOptions(
        lr,
        lr_range.as_tuple() if lr_range else None,
        batch_size,
        batch_sizes.values if batch_sizes else None,
        momentum,
        nesterov,
        beta1,
        beta2,
        eps,
        weight_decay,
    )
    existing = spec.update_parameters.optimizer.WhichOneof("kind")
    if optimizer is not None or options.any_given() or existing is None:
        kind = optimizer.value if optimizer is not None else (existing or "sgd")
        builder.set_optimizer(optimizer_params(kind, options))
    if epochs is not None or epochs_allowed is not None or epochs_range is not None or not _has_epochs(spec):
        allowed = epochs_range.as_int_tuple("--epochs-range") if epochs_range else None
        allowed_epochs = epochs_allowed.values if epochs_allowed else allowed
        default = epochs
        if default is None:
            default = _epochs_default(spec) or DEFAULT_EPOCHS
            _check_implicit_default("--epochs-allowed/--epochs-range", "--epochs", default, allowed_epochs)
        if allowed_epochs is None and (wide := _wide(default, WIDE_EPOCHS)) is not None:
            allowed_epochs = (int(wide[0]), int(wide[1]))
        builder.set_epochs(default, allowed_epochs)
    if clip_norm is not None or clip_value is not None:
        builder.set_gradient_clipping(max_norm=clip_norm, max_value=clip_value)
    if shuffle is not None:
        builder.set_shuffle(shuffle)
    if seed is not None:
        builder.set_seed(seed)
    if proximal_mu is not None or proximal_mu_range is not None:
        allowed_mu = proximal_mu_range.as_tuple() if proximal_mu_range else None
        builder.set_proximal_mu(0.0 if proximal_mu is None else proximal_mu, allowed_mu)
    if flip or crop or rotation or brightness:
        builder.set_augmentation(
            brightness=brightness, horizontal_flip=flip, max_rotation_degrees=rotation, crop_padding=crop
        )
    validate(builder.spec)
    save(builder.spec, output)
    _report(builder.spec, output)
    if declared:
        echo_stdout(f"  {declared}")
    _report_bias(missing_bias, added=add_bias)


def _set_loss(
    builder: NetworkBuilder, source: str, loss: Loss | None, loss_input: str | None, from_logits: bool
) -> None:
    from mlspec.builder.defaults import default_loss_input

    spec = builder.spec
    if loss is None and not spec.HasField("classifier"):
        raise MlspecError(
            f"{source} is not a classifier, so there is no default loss; "
            f"pass --loss ({', '.join(choice.value for choice in Loss)}) and --loss-input NAME"
        )
    tensor = loss_input or default_loss_input(spec)
    if tensor is None:
        raise MlspecError(f"{source}: no output to put the loss on; pass --loss-input NAME (a layer output)")
    builder.set_loss(LOSS_KINDS[loss or Loss.cross_entropy], tensor, from_logits=from_logits)


def optimizer_params(kind: str, options: OptimizerOptions) -> OptimizerParams:
    """Optimizer settings from the options; values not given keep the builder's defaults."""
    from mlspec.builder import AdamParams, AdamWParams, SgdParams

    is_sgd = kind == "sgd"
    misplaced = ["--beta1", "--beta2", "--eps"] if is_sgd else ["--momentum", "--nesterov"]
    given = {
        "--momentum": options.momentum,
        "--nesterov": options.nesterov,
        "--beta1": options.beta1,
        "--beta2": options.beta2,
        "--eps": options.eps,
    }
    wrong = [flag for flag in misplaced if given[flag] is not None]
    if wrong:
        verb = "does" if len(wrong) == 1 else "do"
        raise MlspecError(
            f"{', '.join(wrong)} {verb} not apply to the {kind} optimizer; choose another --optimizer"
        )
    optimizers: dict[str, type[SgdParams] | type[AdamParams]] = {
        "sgd": SgdParams,
        "adam": AdamParams,
        "adamw": AdamWParams,
    }
    params = optimizers[kind]()
    lr = options.lr
    if lr is None:
        lr = params.doubles["learning_rate"].default_value
        _check_implicit_default("--lr-range", "--lr", lr, options.lr_range)
    params.set_lr(lr, options.lr_range or _wide(lr, WIDE_LR))
    default = options.batch_size
    if default is None:
        default = int(params.ints["mini_batch_size"].default_value)
        _check_implicit_default("--batch-sizes", "--batch-size", default, options.batch_sizes)
    wide = _wide(default, WIDE_BATCH)
    params.set_batch(default, options.batch_sizes or (wide and (int(wide[0]), int(wide[1]))))
    _set(params.set_weight_decay, options.weight_decay)
    if isinstance(params, SgdParams):
        _set(params.set_momentum, options.momentum)
        if options.nesterov is not None:
            params.set_nesterov(options.nesterov)
    else:
        _set(params.set_beta1, options.beta1)
        _set(params.set_beta2, options.beta2)
        _set(params.set_eps, options.eps)
    return params


def _set(setter: Callable[[float], None], value: float | None) -> None:
    """Only values given on the command line replace the optimizer's defaults."""
    if value is not None:
        setter(value)


def _check_implicit_default(
    option: str, default_option: str, default: float, allowed: Sequence[float] | tuple[float, float] | None
) -> None:
    """Name the missing option when allowed values leave out the default nobody asked for."""
    if allowed is None:
        return
    inside = allowed[0] <= default <= allowed[1] if isinstance(allowed, tuple) else default in allowed
    if not inside:
        raise MlspecError(
            f"{option} leaves out the default {default:g}; pass {default_option} with an allowed value"
        )


def _has_epochs(spec: model_pb2.Model) -> bool:
    return spec.update_parameters.HasField("epochs")


def _epochs_default(spec: model_pb2.Model) -> int | None:
    return int(spec.update_parameters.epochs.default_value) if _has_epochs(spec) else None


def _report(spec: model_pb2.Model, output: object) -> None:
    update = spec.update_parameters
    layers = [layer.name for layer in spec.network.layers if layer.is_updatable]
    losses = ", ".join(
        f"{loss.WhichOneof('kind')} on {loss.input} (target {loss.target})" for loss in update.loss_layers
    )
    keys = [feature.name for feature in (*spec.description.inputs, *spec.description.training_inputs)]
    echo_stdout(f"wrote {output}")
    echo_stdout(f"  updatable layers: {', '.join(layers)}")
    echo_stdout(f"  losses: {losses}")
    echo_stdout(f"  optimizer: {update.optimizer.WhichOneof('kind')}; epochs {update.epochs.default_value}")
    echo_stdout(f"  training data keys (.npz): {', '.join(dict.fromkeys(keys))}")


def _report_bias(names: list[str], *, added: bool) -> None:
    """Say what happened to chosen layers without a bias: given a zero one, or left without."""
    if not names:
        return
    listed = ", ".join(layer_ref(name) for name in names)
    if added:
        echo_stdout(f"  added a zero bias (trainable, outputs unchanged) to {listed}")
    else:
        echo_stdout(
            f"  note: no bias in {listed}, so training moves the outputs only through the weights; "
            "--add-bias adds a zero bias that trains"
        )
