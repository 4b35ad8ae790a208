"""Core ML's model-personalisation recipe (Hollemans, "On-device training with Core ML", part 4).

    python examples/personalize/personalize.py                  # files go to a new temporary folder
    python examples/personalize/personalize.py --train-conv     # the conv before the head trains too
    python examples/personalize/personalize.py --quick --out /tmp/p

1. Pretrain a small CNN on 3 glyph classes ("0", "1", "2") with mlspec itself; it plays the
   part of the recipe's Turi Create model.
2. Widen its classifier to 10 classes: new rows are zero and the labels user0 ... user6 are
   placeholders for classes the user adds later.
3. Two variants: "pretrained" (as is) and "empty" (the classifier redrawn, Kaiming uniform).
4. Make the last dense layer updatable (with --train-conv, also the convolution before it).
5. Cross-entropy on the probabilities; SGD lr 0.001, batch 8 allowed {1, 2, 8, 16}; epochs 10
   allowed {1, 10, 50}.
6. The user draws three new digits (3, 4, 5) and names them user0, user1, user2. `mlspec train`
   (the real command line, run as a subprocess) adds them, printing train loss, validation loss
   and validation accuracy per epoch. Then a learning-rate override within the allowed range,
   and the error an out-of-range override gets.
7. Each variant's updatable spec is also written as an updatable Core ML model
   (`mlspec export-coreml`), which MLUpdateTask trains on an iPhone with the same settings.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from mlspec import Model, load, save, validate
from mlspec.backends.inference import run_inference
from mlspec.builder import AdamParams, NetworkBuilder, SgdParams
from mlspec.builder.knn import KnnClassifier
from mlspec.convert import to_onnx
from mlspec.datasets import draw_glyphs, glyph_batch
from mlspec.runtime import Trainer
from mlspec.runtime.results import write_back

GRID = 12
NOISE = 0.1
OLD_DIGITS = (0, 1, 2)
NEW_DIGITS = (3, 4, 5)
CLASSES = 10
HEAD, CONV = "classifier", "conv2"


@dataclass(frozen=True)
class Settings:
    pretrain_examples: int
    pretrain_epochs: int
    user_examples_per_class: int
    old_examples_per_class: int
    val_examples_per_class: int
    variants: tuple[str, ...]
    seed: int = 0


FULL = Settings(1500, 8, 60, 20, 40, ("pretrained", "empty"))
QUICK = Settings(900, 6, 60, 20, 30, ("pretrained",))


@dataclass(frozen=True)
class VariantOutcome:
    variant: str
    new_class_accuracy: float
    old_class_accuracy: float
    table: str


@dataclass(frozen=True)
class Outcome:
    base_accuracy: float
    variants: list[VariantOutcome]
    override_accuracy: float
    refusal: str
    knn: VariantOutcome


def labelled(digits: npt.NDArray[np.int64]) -> npt.NDArray[np.str_]:
    """Old digits keep their names; new digit k becomes the placeholder user{k - 3}."""
    return np.array([str(d) if d in OLD_DIGITS else f"user{NEW_DIGITS.index(d)}" for d in digits.tolist()])


def base_network(seed: int) -> NetworkBuilder:
    """conv -> relu -> pool -> conv2 -> relu -> pool -> flatten -> dense -> softmax, 3 classes."""
    builder = NetworkBuilder(class_labels=[str(d) for d in OLD_DIGITS], seed=seed, name="glyphs")
    builder.add_input("image", (1, GRID, GRID), short_description="a 12x12 glyph drawing")
    builder.add_convolution("conv1", "image", 8, (3, 3), padding="same")
    builder.add_activation("relu1", "conv1", "relu")
    builder.add_pooling("pool1", "relu1", "max", (2, 2))
    builder.add_convolution(CONV, "pool1", 16, (3, 3), padding="same")
    builder.add_activation("relu2", CONV, "relu")
    builder.add_pooling("pool2", "relu2", "max", (2, 2))
    builder.add_flatten("flatten", "pool2")
    builder.add_inner_product(HEAD, "flatten", len(OLD_DIGITS))
    builder.add_softmax("probabilities", HEAD)
    return builder


def pretrain(settings: Settings) -> tuple[Model, float]:
    """The 3-class model, trained end to end; returns it without any training setup."""
    plain = base_network(settings.seed).spec
    trainable = Model()
    trainable.CopyFrom(plain)
    builder = NetworkBuilder.edit(trainable)
    builder.make_updatable(["conv1", CONV, HEAD])
    builder.set_loss("categorical_cross_entropy", "probabilities")
    builder.set_optimizer(AdamParams(lr=0.01, batch=32))
    builder.set_epochs(settings.pretrain_epochs)
    rng = np.random.default_rng(settings.seed)
    images, digits = glyph_batch(settings.pretrain_examples, rng, digits=OLD_DIGITS, grid=GRID, noise=NOISE)
    with Trainer.from_spec(builder.spec) as trainer:
        trainer.train({"image": images, "label": labelled(digits)})
        trained = write_back(plain, trainer.parameters())
    test_images, test_digits = glyph_batch(500, rng, digits=OLD_DIGITS, grid=GRID, noise=NOISE)
    return trained, accuracy(trained, test_images, labelled(test_digits))


def personalisable(base: Model, variant: str, *, train_conv: bool, seed: int) -> Model:
    """Steps 2-5 of the recipe on a copy of `base`."""
    spec = Model()
    spec.CopyFrom(base)
    builder = NetworkBuilder.edit(spec, seed=seed)
    builder.widen_classifier(CLASSES)  # zero rows, labels user0 ... user6
    if variant == "empty":
        builder.reinit(HEAD, "kaiming_uniform")
    builder.make_updatable([CONV, HEAD] if train_conv else [HEAD])
    builder.set_loss("categorical_cross_entropy", "probabilities")
    sgd = SgdParams(lr=0.001, batch=8, momentum=0.0)
    sgd.set_batch(8, [1, 2, 8, 16])
    builder.set_optimizer(sgd)
    builder.set_epochs(10, [1, 10, 50])
    builder.set_metadata(short_description=f"glyph classifier, {variant} head, ready for new classes")
    result = builder.spec
    validate(result)
    return result


def knn_classifier(base: Model) -> Model:
    """The series' other variant: the pretrained network without its head as a frozen feature
    extractor (its flattened conv features), followed by an empty k-NN classifier; any number of
    classes, and training is storing examples."""
    extractor = Model()
    extractor.CopyFrom(base)
    assert [layer.name for layer in extractor.network.layers[-2:]] == [HEAD, "probabilities"]
    del extractor.network.layers[-2:]
    features = 16 * (GRID // 4) * (GRID // 4)  # conv2's 16 channels after two 2x2 pools
    knn = KnnClassifier.new(
        dimensions=features,
        feature_extractor=extractor,
        feature_name="flatten",
        default_label="unknown",
        k=3,
        k_allowed=(1, 10),
    )
    result = knn.spec
    validate(result)
    return result


def accuracy(spec: Model, images: npt.NDArray[np.float32], labels: npt.NDArray[np.str_]) -> float:
    """Accuracy of the exported inference model (what would ship), by its predicted label."""
    outputs = run_inference(to_onnx(spec).SerializeToString(), {"image": images})
    predicted = outputs[spec.classifier.predicted_feature_name].astype(str)
    return float(np.mean(predicted == labels))


def mlspec_command() -> list[str]:
    """The installed `mlspec` script next to this interpreter, else one on PATH."""
    beside = Path(sys.executable).with_name("mlspec")
    found = str(beside) if beside.exists() else shutil.which("mlspec")
    if found is None:
        raise SystemExit("the `mlspec` command is not installed; run `pip install -e .` first")
    return [found]


def run_mlspec(*args: str | Path) -> subprocess.CompletedProcess[str]:
    command = [*mlspec_command(), *(str(a) for a in args)]
    print("$ mlspec " + " ".join(str(a) for a in args))
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    print(done.stdout.rstrip())
    if done.stderr.strip():
        print(done.stderr.rstrip())
    return done


Examples = tuple[npt.NDArray[np.float32], npt.NDArray[np.str_]]


def user_data(out: Path, settings: Settings) -> tuple[Path, Path, Examples]:
    """train.npz: the new classes plus a few old examples (so the old classes are not forgotten);
    val.npz: only the new classes. The old classes' test set stays in memory."""
    rng = np.random.default_rng(settings.seed + 1)
    new = np.repeat(np.array(NEW_DIGITS, dtype=np.int64), settings.user_examples_per_class)
    old = np.repeat(np.array(OLD_DIGITS, dtype=np.int64), settings.old_examples_per_class)
    val = np.repeat(np.array(NEW_DIGITS, dtype=np.int64), settings.val_examples_per_class)
    paths = []
    for name, digits in (("train", np.concatenate([new, old])), ("val", val)):
        path = out / f"{name}.npz"
        np.savez(path, image=draw_glyphs(digits, rng, grid=GRID, noise=NOISE), label=labelled(digits))
        paths.append(path)
    old_images, old_digits = glyph_batch(300, rng, digits=OLD_DIGITS, grid=GRID, noise=NOISE)
    return paths[0], paths[1], (old_images, labelled(old_digits))


def new_class_accuracy(spec_path: Path, val_path: Path) -> float:
    with np.load(val_path, allow_pickle=False) as val:
        return accuracy(load(spec_path), val["image"], val["label"])


def train(spec: Path, data: Path, output: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """`mlspec train` as a user would type it; prints the command and what it printed."""
    return run_mlspec("train", spec, "--data", data, *options, "-o", output)


def run(settings: Settings, out: Path, *, train_conv: bool) -> Outcome:
    out.mkdir(parents=True, exist_ok=True)
    base, base_accuracy = pretrain(settings)
    save(base, out / "base.mlspec")
    print(f"1. pretrained on {len(OLD_DIGITS)} classes: {base_accuracy:.1%} on held-out glyphs")
    train_path, val_path, old_set = user_data(out, settings)
    outcomes = []
    for variant in settings.variants:
        spec_path = out / f"{variant}.mlspec"
        save(personalisable(base, variant, train_conv=train_conv, seed=settings.seed), spec_path)
        print(f"\n2-5. {variant}: widened to {CLASSES} classes, updatable, SGD -> {spec_path}")
        # The same spec as an updatable Core ML model, for MLUpdateTask on Apple devices.
        if run_mlspec("export-coreml", spec_path, "-o", out / f"{variant}.mlmodel").returncode != 0:
            raise SystemExit("mlspec export-coreml failed")
        updated = out / f"{variant}-updated.mlspec"
        done = train(spec_path, train_path, updated, "--val", str(val_path))
        if done.returncode != 0:
            raise SystemExit(f"mlspec train exited with {done.returncode}")
        new_accuracy = new_class_accuracy(updated, val_path)
        outcomes.append(VariantOutcome(variant, new_accuracy, accuracy(load(updated), *old_set), done.stdout))
    knn_path, knn_updated = out / "knn.mlspec", out / "knn-updated.mlspec"
    save(knn_classifier(base), knn_path)
    print(
        f"\nk-NN: the pretrained network without its head extracts features for an empty k-NN -> {knn_path}"
    )
    # The empty k-NN as an updatable Core ML pipeline [extractor, k-NN]: MLUpdateTask adds examples.
    if run_mlspec("export-coreml", knn_path, "-o", out / "knn.mlmodel").returncode != 0:
        raise SystemExit("mlspec export-coreml failed")
    done = run_mlspec("add-examples", knn_path, "--data", train_path, "-o", knn_updated)
    if done.returncode != 0:
        raise SystemExit(f"mlspec add-examples exited with {done.returncode}")
    knn = VariantOutcome(
        "k-NN", new_class_accuracy(knn_updated, val_path), accuracy(load(knn_updated), *old_set), done.stdout
    )
    first = out / f"{settings.variants[0]}.mlspec"
    print("\n6. a learning-rate override inside the allowed range [0, 1], and 50 epochs from {1, 10, 50}:")
    faster = out / f"{settings.variants[0]}-lr0.01.mlspec"
    done = train(first, train_path, faster, "--val", str(val_path), "--lr", "0.01", "--epochs", "50")
    if done.returncode != 0:
        raise SystemExit(f"mlspec train exited with {done.returncode}")
    print("\n   overrides outside the allowed values are refused before any training:")
    refused = train(first, train_path, out / "never.mlspec", "--batch-size", "3")
    train(first, train_path, out / "never.mlspec", "--lr", "1.5")
    override = new_class_accuracy(faster, val_path)
    return Outcome(base_accuracy, outcomes, override, refused.stderr.strip(), knn)


def main(argv: Sequence[str] | None = None) -> Outcome:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--out", type=Path, help="where the specs and data go (default: a new temporary folder)"
    )
    parser.add_argument(
        "--train-conv", action="store_true", help=f"also train {CONV}, the conv before the head"
    )
    parser.add_argument("--quick", action="store_true", help="the smaller run the tests use")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="mlspec-personalize-"))
    print(f"writing into {out}")
    outcome = run(QUICK if args.quick else FULL, out, train_conv=args.train_conv)
    chance = 1 / len(NEW_DIGITS)
    print(f"\nvalidation accuracy on the {len(NEW_DIGITS)} new classes (chance {chance:.0%}):")
    for item in outcome.variants:
        new, old = item.new_class_accuracy, item.old_class_accuracy
        print(f"  {item.variant:>10}: new classes {new:.1%}, old classes {old:.1%}")
    print(f"  lr 0.01, 50 epochs: new classes {outcome.override_accuracy:.1%}")
    knn = outcome.knn
    print(f"  k-NN (k=3): new classes {knn.new_class_accuracy:.1%}, old classes {knn.old_class_accuracy:.1%}")
    return outcome


if __name__ == "__main__":
    main(sys.argv[1:])
