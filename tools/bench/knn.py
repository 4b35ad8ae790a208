"""Benchmark: a k-NN classifier holding 100,000 examples of 512 dimensions.

Reports, side by side in one run: adding the examples (mlspec's KnnClassifier in batches of
1,000, and its per-example amortised cost), saving and loading the spec, and prediction
throughput at batch 64 of mlspec's exported ONNX model in onnxruntime against scikit-learn's
brute-force KNeighborsClassifier fitted on the same examples (k=5, Euclidean, uniform).
Design goal: prediction throughput at least scikit-learn's. A measurement, not a test.

    .venv/bin/python tools/bench/knn.py            # --examples/--dims/--batches to scale down
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from sklearn.neighbors import KNeighborsClassifier

import mlspec
from mlspec.backends.inference import InferenceModel
from mlspec.builder.knn import KnnClassifier
from mlspec.convert import to_onnx
from mlspec.spec import knn as spec_knn


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=100_000)
    parser.add_argument("--dims", type=int, default=512)
    parser.add_argument("--batches", type=int, default=30, help="timed batches of 64 per block")
    parser.add_argument("--blocks", type=int, default=3, help="alternating timing blocks")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    centres = rng.normal(size=(50, args.dims)).astype(np.float32)
    labels = rng.integers(0, 50, size=args.examples)
    data = centres[labels] + rng.normal(scale=2.0, size=(args.examples, args.dims)).astype(np.float32)
    names = np.array([f"class{v}" for v in labels])

    knn = KnnClassifier.new(dimensions=args.dims, default_label="none", k=5, k_allowed=(1, 50))
    start = time.perf_counter()
    for first in range(0, args.examples, 1000):
        knn.add_examples(data[first : first + 1000], names[first : first + 1000])
    add_seconds = time.perf_counter() - start
    single = KnnClassifier(knn.spec)
    start = time.perf_counter()
    for row in range(1000):
        single.add_examples(data[row], names[row : row + 1])
    single_seconds = (time.perf_counter() - start) / 1000

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "knn.mlspec"
        start = time.perf_counter()
        mlspec.save(knn.spec, path)
        save_seconds = time.perf_counter() - start
        loads = []
        for _ in range(5):
            start = time.perf_counter()
            loaded = mlspec.load(path)
            stored = spec_knn.examples(loaded)
            loads.append(time.perf_counter() - start)
        size = path.stat().st_size
    assert stored.shape == (args.examples, args.dims)

    session = InferenceModel(to_onnx(loaded).SerializeToString())
    sk = KNeighborsClassifier(n_neighbors=5, algorithm="brute").fit(data, names)
    queries = [
        rng.normal(size=(64, args.dims)).astype(np.float32) * 2 + centres[i % 50] for i in range(args.batches)
    ]
    ours_label = session.run({"features": queries[0]})["label"]
    assert (ours_label == sk.predict(queries[0])).all(), "mlspec and scikit-learn disagree"
    ours, theirs = [], []
    for _ in range(args.blocks):
        start = time.perf_counter()
        for batch in queries:
            session.run({"features": batch})
        ours.append(len(queries) * 64 / (time.perf_counter() - start))
        start = time.perf_counter()
        for batch in queries:
            sk.predict(batch)
        theirs.append(len(queries) * 64 / (time.perf_counter() - start))
    mine, sklearns = statistics.median(ours), statistics.median(theirs)
    print(f"k-NN, {args.examples:,} examples x {args.dims} dims, k=5, Euclidean, uniform")
    print(
        f"add (batches of 1,000):        {add_seconds:.2f} s  "
        f"({add_seconds / args.examples * 1e6:.1f} us/example)"
    )
    print(
        f"add one example at a time:     {single_seconds * 1e6:.1f} us/example with {args.examples:,} stored"
    )
    print(f"save spec ({size / 2**20:.0f} MiB):          {save_seconds:.2f} s")
    print(f"load spec + examples in numpy: {statistics.median(loads):.3f} s (median of 5)")
    print(
        f"predict, batch 64:   mlspec ONNX {mine:,.0f} /s   scikit-learn brute {sklearns:,.0f} /s   "
        f"ratio {mine / sklearns:.2f}x"
    )


if __name__ == "__main__":
    main()
