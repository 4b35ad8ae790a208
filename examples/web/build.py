"""Build the in-browser personalisation page: model, portable artifacts, example data, page files.

    python examples/web/build.py --out site/ --node-modules js/node_modules
    python -m http.server -d site/ 8000          # then open http://127.0.0.1:8000/

1. Pretrain an MLP (64 -> 32 ReLU -> 8 softmax) on scikit-learn's 8x8 digits 0 to 7 with mlspec.
2. Widen its classifier to 10 classes (labels user0 and user1 are the user's new classes), make
   both dense layers updatable, cross-entropy, SGD (lr 0.05, momentum 0.9, batch 16, 15 epochs),
   seed 42.
3. `mlspec convert --backend portable` into site/artifacts/: the page trains these with stock
   onnxruntime-web; it never sees mlspec.
4. site/examples.json: replay examples of the old classes (trained along with the user's, so the
   old classes are not forgotten) and a held-out set of all ten digits (the per-epoch accuracy).
   site/samples/: PNG scans of eights and nines (dark ink on white) from the training split, for
   the page's file picker; the held-out digits are never among them.
5. The page (index.html, app.mjs, worker.mjs), js/src/ and onnxruntime-web's WebAssembly build
   are copied in. Everything the page loads is a plain file; nothing downloads at run time.
"""

from __future__ import annotations

import argparse
import json
import shutil
import zlib
from pathlib import Path

import numpy as np
import numpy.typing as npt

from mlspec import Model, save, validate
from mlspec.backends import to_training_artifacts
from mlspec.builder import AdamParams, NetworkBuilder, SgdParams
from mlspec.runtime import Trainer
from mlspec.runtime.results import write_back

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
OLD = tuple(range(8))
NEW = {8: "user0", 9: "user1"}  # the digits the user adds, under the widened model's labels
HEAD = "classifier"
PAGE_FILES = ("index.html", "app.mjs", "worker.mjs", "plot.mjs", "pixels.mjs", "style.css")
ORT_FILES = ("ort.wasm.min.mjs", "ort-wasm-simd-threaded.wasm", "ort-wasm-simd-threaded.mjs")
REPLAY_PER_CLASS = 12
HELDOUT_PER_CLASS = 20
SAMPLES_PER_CLASS = 20


def label_of(digit: int) -> str:
    return NEW.get(digit, str(digit))


def digits() -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]:
    from sklearn.datasets import load_digits  # noqa: PLC0415  # bundled with scikit-learn, no download

    data = load_digits()
    return (data.data / 16.0).astype(np.float32), data.target.astype(np.int64)


def split(y: npt.NDArray[np.int64], seed: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Per class: the first HELDOUT_PER_CLASS of a shuffled order are held out, the rest train."""
    rng = np.random.default_rng(seed)
    held, train = [], []
    for digit in range(10):
        rows = rng.permutation(np.flatnonzero(y == digit))
        held.append(rows[:HELDOUT_PER_CLASS])
        train.append(rows[HELDOUT_PER_CLASS:])
    return np.concatenate(train), np.concatenate(held)


def pretrain(x: npt.NDArray[np.float32], y: npt.NDArray[np.int64], seed: int) -> Model:
    builder = NetworkBuilder(class_labels=[str(d) for d in OLD], seed=seed, name="digits-web")
    builder.add_input("image", (64,), short_description="an 8x8 digit, ink 1.0, paper 0.0")
    builder.add_inner_product("hidden", "image", 32)
    builder.add_activation("relu", "hidden", "relu")
    builder.add_inner_product(HEAD, "relu", len(OLD))
    builder.add_softmax("probabilities", HEAD)
    plain = builder.spec
    trainable = Model()
    trainable.CopyFrom(plain)
    edit = NetworkBuilder.edit(trainable)
    edit.make_updatable(["hidden", HEAD])
    edit.set_loss("categorical_cross_entropy", "probabilities")
    edit.set_optimizer(AdamParams(lr=0.01, batch=32))
    edit.set_epochs(30)
    with Trainer.from_spec(edit.spec) as trainer:
        trainer.train({"image": x, "label": np.array([str(d) for d in y])})
        return write_back(plain, trainer.parameters())


def personalisable(base: Model, seed: int) -> Model:
    spec = Model()
    spec.CopyFrom(base)
    builder = NetworkBuilder.edit(spec, seed=seed)
    builder.widen_classifier(10)  # zero rows; labels user0, user1
    builder.make_updatable(["hidden", HEAD])
    builder.set_loss("categorical_cross_entropy", "probabilities")
    # SGD with momentum, not Adam: Adam divides by sqrt(v) + eps, so a weight whose gradient is
    # ~1e-9 (the always-blank edge pixels) moves by rounding noise, and two runtimes' rounding
    # differ; SGD's update is linear in the gradient, so the browser and Python agree to 1e-5.
    builder.set_optimizer(SgdParams(lr=0.05, batch=16, momentum=0.9))
    builder.set_epochs(15, (1, 100))
    builder.set_seed(42)
    builder.set_metadata(short_description="8x8 digits 0-7; learns two new classes in the browser")
    validate(builder.spec)
    return builder.spec


def png(pixels: npt.NDArray[np.float32], scale: int = 8) -> bytes:
    """An 8-bit grayscale PNG of `pixels` (0 paper .. 1 ink) as dark ink on white, upscaled."""
    gray = np.kron(
        np.round(255 * (1 - pixels.reshape(8, 8))).astype(np.uint8), np.ones((scale, scale), np.uint8)
    )
    raw = b"".join(b"\x00" + row.tobytes() for row in gray)

    def chunk(kind: bytes, body: bytes) -> bytes:
        return len(body).to_bytes(4, "big") + kind + body + zlib.crc32(kind + body).to_bytes(4, "big")

    size = gray.shape[1].to_bytes(4, "big") + gray.shape[0].to_bytes(4, "big")
    header = chunk(b"IHDR", size + bytes([8, 0, 0, 0, 0]))
    return b"\x89PNG\r\n\x1a\n" + header + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def rows(x: npt.NDArray[np.float32], y: npt.NDArray[np.int64]) -> dict[str, list[object]]:
    return {"image": np.round(x, 6).tolist(), "label": [label_of(int(d)) for d in y]}


def build(out: Path, node_modules: Path, seed: int = 0) -> None:
    x, y = digits()
    train, held = split(y, seed)
    old = train[np.isin(y[train], OLD)]
    base = pretrain(x[old], y[old], seed)
    out.mkdir(parents=True, exist_ok=True)
    spec = personalisable(base, seed)
    save(spec, out / "model.mlspec")
    to_training_artifacts(spec, out / "artifacts", backend="portable")
    rng = np.random.default_rng(seed + 1)
    replay = np.concatenate([rng.permutation(old[y[old] == d])[:REPLAY_PER_CLASS] for d in OLD])
    (out / "examples.json").write_text(
        json.dumps({"replay": rows(x[replay], y[replay]), "heldout": rows(x[held], y[held])})
    )
    samples = out / "samples"
    shutil.rmtree(samples, ignore_errors=True)
    samples.mkdir()
    for digit, label in NEW.items():
        for k, row in enumerate(train[y[train] == digit][:SAMPLES_PER_CLASS]):
            (samples / f"{label}-{digit}-{k:02d}.png").write_bytes(png(x[row]))
    for name in PAGE_FILES:
        shutil.copy(HERE / name, out / name)
    shutil.copytree(ROOT / "js" / "src", out / "lib", dirs_exist_ok=True)
    (out / "ort").mkdir(exist_ok=True)
    for name in ORT_FILES:
        shutil.copy(node_modules / "onnxruntime-web" / "dist" / name, out / "ort" / name)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--out", type=Path, required=True, help="the folder to serve")
    parser.add_argument("--node-modules", type=Path, default=ROOT / "js" / "node_modules")
    args = parser.parse_args()
    build(args.out, args.node_modules)
    print(f"built {args.out}: serve it with python -m http.server -d {args.out}")


if __name__ == "__main__":
    main()
