"""Benchmark: training steps per second for the mlspec Trainer, a raw ORT loop and PyTorch eager.

Design targets: the Trainer within 5% of a hand-written onnxruntime-training loop over the same
artifacts, and at least 1.5x PyTorch eager on the small MLP. Run with

    .venv/bin/python tools/bench/train_throughput.py

PyTorch is optional (the `bench` extra); without it the torch column says so. The three
contestants run interleaved in rounds on the same data and the median round is reported, so
machine noise hits them alike. This is a measurement, not a test: it never fails on timing.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime

import mlspec.convert.ort_backend  # noqa: F401  (registers the torch-free onnxruntime.training)
from mlspec._proto import model_pb2
from mlspec.builder import AdamWParams, NetworkBuilder
from mlspec.convert.manifest import Manifest
from mlspec.runtime import Trainer

ort_api = importlib.import_module("onnxruntime.training.api")
CLASSES = [str(i) for i in range(10)]
LEARNING_RATE = 1e-3
BATCHES_PER_EPOCH = 40
Arrays = tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]


@dataclass(frozen=True)
class Case:
    name: str
    batch: int
    steps: int
    build: Callable[[], model_pb2.Model]
    data: Callable[[int], Arrays]
    torch_model: Callable[[Any], Any]


def _finish(builder: NetworkBuilder, updatable: list[str], batch: int) -> model_pb2.Model:
    builder.add_softmax("probs", "logits")
    builder.make_updatable(updatable)
    builder.set_loss("categorical_cross_entropy", "probs")
    optimizer = AdamWParams(lr=LEARNING_RATE, batch=batch)
    builder.set_optimizer(optimizer)
    builder.set_epochs(1, (1, 100_000))
    builder.set_shuffle(False)
    return builder.spec


def mlp_spec(hidden: int) -> model_pb2.Model:
    builder = NetworkBuilder(class_labels=CLASSES, seed=0)
    builder.add_input("x", [784])
    builder.add_inner_product("fc1", "x", hidden)
    builder.add_activation("relu", "fc1", "relu")
    builder.add_inner_product("fc2", "relu", 10, output="logits")
    return _finish(builder, ["fc1", "fc2"], 64)


def cnn_spec() -> model_pb2.Model:
    """Apple's BNNS training sample shape: conv -> batch norm -> relu -> max pool -> dense."""
    builder = NetworkBuilder(class_labels=CLASSES, seed=0)
    builder.add_input("x", [1, 28, 28])
    builder.add_convolution("conv", "x", 8, (3, 3), padding="same")
    builder.add_batch_norm("bn", "conv")
    builder.add_activation("relu", "bn", "relu")
    builder.add_pooling("pool", "relu", "max", (2, 2), strides=(2, 2))
    builder.add_flatten("flat", "pool")
    builder.add_inner_product("fc", "flat", 10, output="logits")
    return _finish(builder, ["conv", "bn", "fc"], 32)


def random_data(shape: tuple[int, ...]) -> Callable[[int], Arrays]:
    def make(count: int) -> Arrays:
        rng = np.random.default_rng(0)
        return rng.standard_normal((count, *shape), dtype=np.float32), rng.integers(0, 10, count)

    return make


def torch_mlp(hidden: int) -> Callable[[Any], Any]:
    return lambda nn: nn.Sequential(nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def torch_cnn(nn: Any) -> Any:
    return nn.Sequential(
        nn.Conv2d(1, 8, 3, padding=1),
        nn.BatchNorm2d(8),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(8 * 14 * 14, 10),
    )


def run_trainer(directory: Path, data: Arrays, steps: int) -> float:
    trainer = Trainer.from_artifacts(directory, epochs=steps // BATCHES_PER_EPOCH)
    start = time.perf_counter()
    result = trainer.train(data)
    elapsed = time.perf_counter() - start
    return result.steps / elapsed


def run_raw_ort(directory: Path, data: Arrays, steps: int, batch: int) -> float:
    """The loop a user would write against onnxruntime.training.api directly."""
    manifest = Manifest.load(directory)
    state = ort_api.CheckpointState.load_checkpoint(str(directory / "checkpoint"))
    module = ort_api.Module(str(directory / "training_model.onnx"), state, str(directory / "eval_model.onnx"))
    optimizer = ort_api.Optimizer(str(directory / "optimizer_model.onnx"), module)
    optimizer.set_learning_rate(LEARNING_RATE)
    module.train()
    writeback = [(w.parameter, w.output_index) for w in manifest.running_stat_writeback]
    x, y = data
    count = len(x)
    start = time.perf_counter()
    for step in range(steps):
        begin = (step * batch) % count
        outputs = module(x[begin : begin + batch], y[begin : begin + batch])
        optimizer.step()
        module.lazy_reset_grad()
        for name, index in writeback:
            state.parameters[name] = outputs[index]
    return steps / (time.perf_counter() - start)


def run_torch(torch: Any, case: Case, data: Arrays, steps: int) -> float:
    torch.manual_seed(0)
    model = case.torch_model(torch.nn)
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=LEARNING_RATE, weight_decay=0.01)
    x, y = torch.from_numpy(data[0]), torch.from_numpy(data[1])
    count, batch = len(x), case.batch
    start = time.perf_counter()
    for step in range(steps):
        begin = (step * batch) % count
        optimizer.zero_grad(set_to_none=True)
        loss = torch.nn.functional.cross_entropy(model(x[begin : begin + batch]), y[begin : begin + batch])
        loss.backward()
        optimizer.step()
    return steps / (time.perf_counter() - start)


def measure(case: Case, rounds: int, torch: Any | None, work: Path) -> dict[str, float | None]:
    data = case.data(case.batch * BATCHES_PER_EPOCH)
    directory = Trainer.from_spec(case.build(), work / case.name).artifact_dir
    run_trainer(directory, data, BATCHES_PER_EPOCH)  # warm-up: first-run allocations and kernels
    run_raw_ort(directory, data, BATCHES_PER_EPOCH, case.batch)
    if torch is not None:
        run_torch(torch, case, data, BATCHES_PER_EPOCH)
    figures: dict[str, list[float]] = {"mlspec": [], "ort": [], "torch": []}
    for _ in range(rounds):
        figures["mlspec"].append(run_trainer(directory, data, case.steps))
        figures["ort"].append(run_raw_ort(directory, data, case.steps, case.batch))
        if torch is not None:
            figures["torch"].append(run_torch(torch, case, data, case.steps))
    return {name: statistics.median(values) if values else None for name, values in figures.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds; the median is shown")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the step counts")
    args = parser.parse_args()
    onnxruntime.set_default_logger_severity(3)
    try:
        torch: Any | None = importlib.import_module("torch")
    except ImportError:
        torch = None

    def steps(base: int) -> int:
        """Whole epochs, so the Trainer and the raw loops take the same number of steps."""
        return max(1, int(base * args.scale) // BATCHES_PER_EPOCH) * BATCHES_PER_EPOCH

    mlp, images = random_data((784,)), random_data((1, 28, 28))
    cases = [
        Case("MLP 784-128-10, batch 64", 64, steps(2000), lambda: mlp_spec(128), mlp, torch_mlp(128)),
        Case("MLP 784-512-10, batch 64", 64, steps(800), lambda: mlp_spec(512), mlp, torch_mlp(512)),
        Case("BNNS CNN 1x28x28, batch 32", 32, steps(400), cnn_spec, images, torch_cnn),
    ]
    print(f"AdamW, steps/s, median of {args.rounds} interleaved rounds")
    print(f"{'model':<28} {'mlspec':>9} {'raw ORT':>9} {'torch':>9} {'mlspec/ORT':>11} {'mlspec/torch':>13}")
    with tempfile.TemporaryDirectory(prefix="mlspec-bench-") as work:
        for case in cases:
            result = measure(case, args.rounds, torch, Path(work))
            ours, ort = result["mlspec"] or 0.0, result["ort"] or 1.0
            theirs = result["torch"]
            torch_text = f"{theirs:9.0f}" if theirs else f"{'n/a':>9}"
            ratio = f"{ours / theirs:12.2f}x" if theirs else f"{'n/a':>13}"
            print(f"{case.name:<28} {ours:9.0f} {ort:9.0f} {torch_text} {ours / ort:10.1%} {ratio}")
    if torch is None:
        print(
            "torch is not installed: install the `bench` extra (pip install 'mlspec[bench]') for its column"
        )


if __name__ == "__main__":
    main()
