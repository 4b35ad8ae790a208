"""Benchmark: conversion time and peak memory of to_training_artifacts for ~1M, 10M and 25M parameters.

The specs are MLP classifiers 784 -> h -> h -> 10 (AdamW, cross-entropy on softmax
probabilities) with h chosen for the parameter count. Each size runs in a fresh child process
so that peak memory is that conversion's alone: peak RSS is the process high-water mark from
resource.getrusage(RUSAGE_SELF).ru_maxrss, reported both in total and above the level reached
after building the spec (the spec's own weights included in the baseline). tracemalloc is not
used because ONNX Runtime and protobuf allocate natively, outside its view.

Each size runs twice: with glibc's default malloc settings and with settings that keep freed
memory for reuse (see RETAINING_MALLOC), which shows how much of the time is page faulting.

Run with `.venv/bin/python tools/bench/convert.py`. A measurement, not a test: it prints
figures and never fails on timing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlspec._proto import model_pb2
from mlspec.backends import to_training_artifacts
from mlspec.builder import AdamWParams, NetworkBuilder

INPUTS = 784
CLASSES = 10
HIDDEN_FOR_TARGET = {1_000_000: 700, 10_000_000: 2800, 25_000_000: 4650}


def build(hidden: int) -> model_pb2.Model:
    builder = NetworkBuilder(
        mode="classifier", class_labels=[str(c) for c in range(CLASSES)], name="bench_mlp"
    )
    builder.add_input("x", (INPUTS,))
    builder.add_inner_product("fc1", "x", hidden, output="h1")
    builder.add_activation("relu1", "h1", "relu", output="a1")
    builder.add_inner_product("fc2", "a1", hidden, output="h2")
    builder.add_activation("relu2", "h2", "relu", output="a2")
    builder.add_inner_product("fc3", "a2", CLASSES, output="logits")
    builder.add_softmax("softmax", "logits", output="probs")
    builder.make_updatable(["fc1", "fc2", "fc3"])
    builder.set_loss("categorical_cross_entropy", "probs")
    builder.set_optimizer(AdamWParams())
    builder.set_epochs(1, (1, 100))
    return builder.spec


def parameter_count(hidden: int) -> int:
    return INPUTS * hidden + hidden + hidden * hidden + hidden + hidden * CLASSES + CLASSES


def _max_rss_mib() -> float:
    # Linux reports ru_maxrss in KiB.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure_one(hidden: int, repeat: int) -> dict[str, float]:
    """Runs inside the child process: build, then time `repeat` conversions and keep the fastest."""
    model = build(hidden)
    baseline = _max_rss_mib()
    times = []
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(repeat):
            start = time.perf_counter()
            to_training_artifacts(model, Path(scratch) / "artifacts")
            times.append(time.perf_counter() - start)
        size = sum(p.stat().st_size for p in (Path(scratch) / "artifacts").iterdir())
    peak = _max_rss_mib()
    return {
        "seconds": min(times),
        "peak_mib": peak,
        "above_spec_mib": peak - baseline,
        "artifact_mib": size / 2**20,
    }


# glibc hands every block above its mmap threshold (at most 32 MiB) fresh pages from the kernel
# and returns them on free; converting large weights still copies them several times (out of the
# spec into initializers, protobuf serialisation, the checker, ORT's checkpoint writer), so with
# default settings each copy of a big tensor is paid again in page faults. These settings keep
# freed memory for reuse.
RETAINING_MALLOC = {
    "MALLOC_MMAP_THRESHOLD_": str(4 * 2**30),
    "MALLOC_TRIM_THRESHOLD_": str(8 * 2**30),
    "MALLOC_TOP_PAD_": str(512 * 2**20),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3, help="conversions per size; the fastest is shown")
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        sys.stdout.write(json.dumps(measure_one(args.child, args.repeat)))
        return
    header = (
        f"{'malloc':>9} {'parameters':>12} {'hidden':>6} {'convert s':>10} {'peak RSS MiB':>13} "
        f"{'above spec MiB':>15} {'files MiB':>10}"
    )
    sys.stdout.write(header + "\n")
    for mode, extra_env in (("default", {}), ("retaining", RETAINING_MALLOC)):
        for hidden in HIDDEN_FOR_TARGET.values():
            command = [sys.executable, __file__, "--child", str(hidden), "--repeat", str(args.repeat)]
            environment = {**os.environ, **extra_env}
            result = subprocess.run(command, capture_output=True, text=True, check=True, env=environment)
            figures = json.loads(result.stdout)
            sys.stdout.write(
                f"{mode:>9} {parameter_count(hidden):>12,} {hidden:>6} {figures['seconds']:>10.2f} "
                f"{figures['peak_mib']:>13.0f} {figures['above_spec_mib']:>15.0f} "
                f"{figures['artifact_mib']:>10.0f}\n"
            )


if __name__ == "__main__":
    main()
