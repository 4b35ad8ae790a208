"""The MPSGraph and PyTorch MNIST tutorials, in mlspec: an MLP digit classifier, SGD or Adam.

    python examples/mnist_mlp/mnist_mlp.py                          # scikit-learn's 8x8 digits
    python examples/mnist_mlp/mnist_mlp.py --optimizer sgd
    python examples/mnist_mlp/mnist_mlp.py --mnist ~/data/mnist     # real MNIST IDX files

With `--mnist DIR` the network is the tutorials' 784 -> 128 -> 64 -> 10 and DIR holds the four
IDX files (train-images-idx3-ubyte[.gz], train-labels-..., t10k-images-..., t10k-labels-...),
read by `mlspec.datasets.read_idx_pair`; nothing is downloaded. Without it the data is the
1,797 8x8 digits bundled with scikit-learn (needs the `dev` extra or `pip install scikit-learn`),
the input width becomes 64 (64 -> 128 -> 64 -> 10) and a seeded, stratified 80/20 split gives the
test set.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from mlspec import MlspecError, Model, validate
from mlspec.builder import AdamParams, NetworkBuilder, SgdParams
from mlspec.datasets import read_idx_pair
from mlspec.runtime import Trainer, TrainingEvent

Images = npt.NDArray[np.float32]
Labels = npt.NDArray[np.int64]
HIDDEN = (128, 64)
BATCH = 32
LEARNING_RATES = {"adam": 0.001, "sgd": 0.05}


@dataclass(frozen=True)
class Data:
    train_x: Images
    train_y: Labels
    test_x: Images
    test_y: Labels
    source: str


@dataclass(frozen=True)
class Outcome:
    test_accuracy: float
    epochs: int
    epoch_losses: list[float]
    seconds: float
    source: str
    model: Model


def sklearn_digits(seed: int, test_fraction: float = 0.2) -> Data:
    """The 8x8 digits scaled to [0, 1], split per class so both halves keep the class balance."""
    from sklearn.datasets import load_digits  # noqa: PLC0415  # optional: only this data set needs it

    bunch = load_digits()
    x = (np.asarray(bunch.data, dtype=np.float32) / 16.0).astype(np.float32)
    y = np.asarray(bunch.target, dtype=np.int64)
    rng = np.random.default_rng(seed)
    test = np.zeros(len(y), dtype=bool)
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(y == digit))
        test[members[: round(len(members) * test_fraction)]] = True
    return Data(x[~test], y[~test], x[test], y[test], "scikit-learn 8x8 digits")


def mnist(directory: Path) -> Data:
    """MNIST from its IDX files, pixels scaled to [0, 1] and flattened to 784."""

    def flat(images: npt.NDArray[np.generic]) -> Images:
        return (images.reshape(len(images), -1).astype(np.float32) / 255.0).astype(np.float32)

    train_x, train_y = read_idx_pair(directory, "train")
    test_x, test_y = read_idx_pair(directory, "t10k")
    return Data(
        flat(train_x), train_y.astype(np.int64), flat(test_x), test_y.astype(np.int64), f"MNIST ({directory})"
    )


def build_spec(features: int, optimizer: str, epochs: int, seed: int) -> Model:
    builder = NetworkBuilder(class_labels=list(range(10)), seed=seed, name="mnist-mlp")
    builder.add_input("pixels", (features,))
    builder.add_inner_product("fc1", "pixels", HIDDEN[0])
    builder.add_activation("relu1", "fc1", "relu")
    builder.add_inner_product("fc2", "relu1", HIDDEN[1])
    builder.add_activation("relu2", "fc2", "relu")
    builder.add_inner_product("fc3", "relu2", 10)
    builder.add_softmax("probabilities", "fc3")
    builder.make_updatable(["fc1", "fc2", "fc3"])
    builder.set_loss("categorical_cross_entropy", "probabilities")
    rate = LEARNING_RATES[optimizer]
    params = (
        AdamParams(lr=rate, batch=BATCH)
        if optimizer == "adam"
        else SgdParams(lr=rate, batch=BATCH, momentum=0.9)
    )
    builder.set_optimizer(params)
    builder.set_epochs(epochs, (1, 1000))
    builder.set_seed(seed)
    spec = builder.spec
    validate(spec)
    return spec


def print_epoch(event: TrainingEvent) -> None:
    if event.kind == "epoch_end" and event.validation_accuracy is not None:
        print(
            f"epoch {event.epoch + 1:3d}  train loss {event.epoch_loss:.4f}  "
            f"test loss {event.validation_loss:.4f}  test accuracy {event.validation_accuracy:.2%}"
        )


def run(data: Data, *, optimizer: str, epochs: int, seed: int) -> Outcome:
    started = time.perf_counter()
    spec = build_spec(data.train_x.shape[1], optimizer, epochs, seed)
    with Trainer.from_spec(spec) as trainer:
        result = trainer.train(
            {"pixels": data.train_x, "label": data.train_y},
            validation={"pixels": data.test_x, "label": data.test_y},
            callbacks=[print_epoch],
        )
        final = trainer.evaluate({"pixels": data.test_x, "label": data.test_y})
        trained = trainer.updated_model()
    assert final.accuracy is not None  # a classifier always reports accuracy
    return Outcome(
        final.accuracy,
        result.epochs_completed,
        result.epoch_losses,
        time.perf_counter() - started,
        data.source,
        trained,
    )


def main(argv: Sequence[str] | None = None) -> Outcome:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mnist", type=Path, help="directory holding the four MNIST IDX files")
    parser.add_argument("--optimizer", choices=sorted(LEARNING_RATES), default="adam")
    parser.add_argument("--epochs", type=int, help="default: 30 (8x8 digits) or 10 (MNIST)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    try:
        data = mnist(args.mnist) if args.mnist else sklearn_digits(args.seed)
    except MlspecError as error:  # IDX files missing or malformed: say which, no traceback
        parser.exit(1, f"error: {error}\n")
    epochs = args.epochs or (10 if args.mnist else 30)
    print(f"{data.source}: {len(data.train_y)} training and {len(data.test_y)} test examples")
    outcome = run(data, optimizer=args.optimizer, epochs=epochs, seed=args.seed)
    took = f"{outcome.epochs} epoch{'s' if outcome.epochs != 1 else ''}, {outcome.seconds:.1f} s"
    print(f"{args.optimizer}, {took}: test accuracy {outcome.test_accuracy:.2%}")
    return outcome


if __name__ == "__main__":
    main(sys.argv[1:])
