"""Benchmark: load a spec holding 100 MiB of float32 weights and bring every weight into numpy.

Design target: "well under a second". Run with `.venv/bin/python tools/bench/load_spec.py`.
This is a measurement, not a test: it prints figures and never fails on timing.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

import mlspec
from mlspec._proto import model_pb2, tensor_pb2
from mlspec.spec.kinds import layer_tensors
from mlspec.spec.weights import make_tensor, to_numpy

MIB = 1024 * 1024


def build(total_mib: int, width: int) -> model_pb2.Model:
    """A stack of width x width dense layers whose weights add up to total_mib of float32."""
    layers = max(1, total_mib * MIB // (width * width * 4))
    model = model_pb2.Model(spec_version=mlspec.SPEC_VERSION)
    feature = model.description.inputs.add(name="x")
    feature.type.tensor.dtype = tensor_pb2.FLOAT32
    feature.type.tensor.shape.add(symbol="batch")
    feature.type.tensor.shape.add(size=width)
    rng = np.random.default_rng(0)
    source = "x"
    for index in range(layers):
        layer = model.network.layers.add(name=f"fc{index}", inputs=[source], outputs=[f"h{index}"])
        dense = layer.inner_product
        dense.input_channels = dense.output_channels = width
        dense.weights.CopyFrom(make_tensor(rng.standard_normal((width, width), dtype=np.float32)))
        source = f"h{index}"
    return model


def load_all_weights(path: Path) -> tuple[int, float, float]:
    """Bytes of weights reached, seconds to load, seconds to load and view every weight."""
    start = time.perf_counter()
    model = mlspec.load(path)
    loaded = time.perf_counter()
    total = 0
    for layer in model.network.layers:
        for field, tensor in layer_tensors(layer):
            array = to_numpy(tensor, f'layers["{layer.name}"].{field}')
            total += array.nbytes
    return total, loaded - start, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=100, help="weights to store, in MiB")
    parser.add_argument("--width", type=int, default=1024, help="dense layer width")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    model = build(args.mib, args.width)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "big.mlspec"
        start = time.perf_counter()
        mlspec.save(model, path)
        saved = time.perf_counter() - start
        del model
        size = path.stat().st_size
        runs = [load_all_weights(path) for _ in range(args.runs)]
    weight_bytes = runs[0][0]
    load_times = [r[1] for r in runs]
    total_times = [r[2] for r in runs]
    print(f"spec file: {size / MIB:.1f} MiB, weights reached in numpy: {weight_bytes / MIB:.1f} MiB")
    print(f"save: {saved:.3f} s")
    print(f"mlspec.load: median {statistics.median(load_times):.3f} s over {args.runs} runs")
    print(
        f"load + every weight in numpy: median {statistics.median(total_times):.3f} s "
        f"(min {min(total_times):.3f}, max {max(total_times):.3f})"
    )


if __name__ == "__main__":
    main()
