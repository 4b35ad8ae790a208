"""Benchmark: training steps per second for the mlspec Trainer, a raw ORT loop and PyTorch eager.

The Trainer runs twice: over onnxruntime-training artifacts (mlspec) and over the portable
backend's standard-ONNX step model on a stock InferenceSession (portable; n/a where that backend
does not cover the network yet).

Design targets: the Trainer within 5% of a hand-written onnxruntime-training loop over the same
artifacts, and at least 1.5x PyTorch eager on the small MLP. Run with

    .venv/bin/python tools/bench/train_throughput.py

PyTorch is optional (the `bench` extra); without it the torch column says so. The contestants
train the same network on the same data in alternating blocks of a few epochs, and each one's
median block rate is reported, so load from other processes hits them alike. The Trainer's
blocks include its per-call data checks. This is a measurement, not a test: it never fails on
timing. With --profile it instead runs ORT's profiler over each case's training model and
prints which nodes the step's time goes to.
"""

from __future__ import annotations

import argparse
import collections
import importlib
import json
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

from mlspec._proto import model_pb2
from mlspec.backends.ort_training.ort import training_session_options  # registers torch-free ORT training
from mlspec.backends.portable.artifacts import NotCoveredError
from mlspec.builder import AdamWParams, NetworkBuilder
from mlspec.convert.manifest import Manifest
from mlspec.runtime import Trainer

ort_api = importlib.import_module("onnxruntime.training.api")
CLASSES = [str(i) for i in range(10)]
LEARNING_RATE = 1e-3
BATCHES_PER_EPOCH = 40
EPOCHS_PER_BLOCK = 5
GRADIENT_BUFFER = "_grad.accumulation.buffer"  # ORT's suffix for a parameter's gradient input
Arrays = tuple[npt.NDArray[np.float32], npt.NDArray[np.int64]]


@dataclass(frozen=True)
class Case:
    name: str
    batch: int
    blocks: int
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


class MlspecContestant:
    """The Trainer; one block is one `train` call, its data checks and set-up included."""

    def __init__(self, directory: Path, data: Arrays, batch: int) -> None:
        self.trainer = Trainer.from_artifacts(directory, epochs=EPOCHS_PER_BLOCK)
        self.data, self.batch = data, batch

    def warm_up(self) -> None:
        self.trainer.train((self.data[0][: self.batch], self.data[1][: self.batch]))

    def block(self) -> int:
        return self.trainer.train(self.data).steps


class RawOrtContestant:
    """The loop a user would write against onnxruntime.training.api directly."""

    def __init__(
        self, directory: Path, data: Arrays, batch: int, options: onnxruntime.SessionOptions | None
    ) -> None:
        manifest = Manifest.load(directory)
        self.state = ort_api.CheckpointState.load_checkpoint(str(directory / "checkpoint"))
        self.module = ort_api.Module(
            str(directory / "training_model.onnx"),
            self.state,
            str(directory / "eval_model.onnx"),
            session_options=options,
        )
        self.optimizer = ort_api.Optimizer(str(directory / "optimizer_model.onnx"), self.module)
        self.optimizer.set_learning_rate(LEARNING_RATE)
        self.module.train()
        self.writeback = [(w.parameter, w.output_index) for w in manifest.running_stat_writeback]
        self.data, self.batch = data, batch

    def warm_up(self) -> None:
        self._epochs(EPOCHS_PER_BLOCK, self.batch)

    def block(self) -> int:
        return self._epochs(EPOCHS_PER_BLOCK, len(self.data[0]))

    def _epochs(self, epochs: int, count: int) -> int:
        (x, y), batch, module, optimizer = self.data, self.batch, self.module, self.optimizer
        for _ in range(epochs):
            for begin in range(0, count, batch):
                outputs = module(x[begin : begin + batch], y[begin : begin + batch])
                optimizer.step()
                module.lazy_reset_grad()
                for name, index in self.writeback:
                    self.state.parameters[name] = outputs[index]
        return epochs * count // batch


class TorchContestant:
    """The same network and AdamW in PyTorch eager mode."""

    def __init__(self, torch: Any, case: Case, data: Arrays) -> None:
        torch.manual_seed(0)
        self.torch = torch
        self.model = case.torch_model(torch.nn)
        self.model.train()
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=LEARNING_RATE, weight_decay=0.01)
        self.x, self.y = torch.from_numpy(data[0]), torch.from_numpy(data[1])
        self.batch = case.batch

    def warm_up(self) -> None:
        self._epochs(EPOCHS_PER_BLOCK, self.batch)

    def block(self) -> int:
        return self._epochs(EPOCHS_PER_BLOCK, len(self.x))

    def _epochs(self, epochs: int, count: int) -> int:
        cross_entropy = self.torch.nn.functional.cross_entropy
        for _ in range(epochs):
            for begin in range(0, count, self.batch):
                self.optimizer.zero_grad(set_to_none=True)
                end = begin + self.batch
                loss = cross_entropy(self.model(self.x[begin:end]), self.y[begin:end])
                loss.backward()
                self.optimizer.step()
        return epochs * count // self.batch


def measure(case: Case, blocks: int, torch: Any | None, work: Path) -> dict[str, float]:
    """Steps/s of each contestant over `blocks` blocks of a few epochs, taken in turn.

    Alternating short blocks (not long runs one after another) means a burst of load from other
    processes hits every contestant alike; the median block rate discards the bursts. Each block
    gets a fresh session (built and warmed up untimed), because one session's buffer placement
    can make it steadily a few percent faster or slower than another's.
    """
    data = case.data(case.batch * BATCHES_PER_EPOCH)
    directory = Trainer.from_spec(case.build(), work / case.name).artifact_dir
    factories: dict[str, Callable[[], Any]] = {
        "mlspec": lambda: MlspecContestant(directory, data, case.batch),
        # The same session options as mlspec's backend: isolates the runtime's own overhead.
        "ort": lambda: RawOrtContestant(directory, data, case.batch, training_session_options()),
        # ORT's defaults (intra-op threads spin between calls): what a first hand-written loop gets.
        "ort-defaults": lambda: RawOrtContestant(directory, data, case.batch, None),
    }
    try:
        portable = Trainer.from_spec(
            case.build(), work / f"{case.name} portable", backend="portable"
        ).artifact_dir
        factories["portable"] = lambda: MlspecContestant(portable, data, case.batch)
    except NotCoveredError:
        pass
    if torch is not None:
        factories["torch"] = lambda: TorchContestant(torch, case, data)
    rates: dict[str, list[float]] = {name: [] for name in factories}
    for index in range(blocks):
        names = list(factories)
        shift = index % len(names)
        for name in names[shift:] + names[:shift]:
            contestant = factories[name]()
            contestant.warm_up()
            start = time.perf_counter()
            steps = contestant.block()
            rates[name].append(steps / (time.perf_counter() - start))
    return {name: statistics.median(values) for name, values in rates.items()}


def profile(case: Case, work: Path, runs: int = 300) -> None:
    """Print the training model's nodes by kernel time per forward-and-backward run.

    The model runs in a plain InferenceSession (same options, fed the checkpoint's parameters),
    not under ort_api.Module: a Module's train and eval sessions share one profile file name
    and only write it when destroyed, so the file can come out interleaved.
    """
    directory = Trainer.from_spec(case.build(), work / case.name).artifact_dir
    manifest = Manifest.load(directory)
    parameters = ort_api.CheckpointState.load_checkpoint(str(directory / "checkpoint")).parameters
    options = training_session_options()
    options.enable_profiling = True
    options.profile_file_prefix = str(work / "profile")
    session = onnxruntime.InferenceSession(str(directory / "training_model.onnx"), options)
    feeds: dict[str, Any] = dict(zip(manifest.feed_order, case.data(case.batch), strict=True))
    for value in session.get_inputs():
        if value.name == "lazy_reset_grad":
            feeds[value.name] = np.array([True])
        elif value.name.endswith(GRADIENT_BUFFER):
            feeds[value.name] = np.zeros_like(parameters[value.name.removesuffix(GRADIENT_BUFFER)].data)
        elif value.name not in feeds:
            feeds[value.name] = parameters[value.name].data
    for _ in range(runs):
        session.run(None, feeds)
    totals: collections.Counter[tuple[str, str]] = collections.Counter()
    for event in json.loads(Path(session.end_profiling()).read_text()):
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            totals[event["args"]["op_name"], event["name"].removesuffix("_kernel_time")] += event["dur"]
    overall = sum(totals.values())
    print(f"{case.name}: {overall / runs:.0f} us of kernels per training-model run")
    for (op_type, node), duration in totals.most_common(12):
        print(f"  {op_type:<24} {node[:48]:<48} {duration / runs:8.1f} us {duration / overall:6.1%}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the number of blocks")
    parser.add_argument("--profile", action="store_true", help="per-node time breakdown instead")
    args = parser.parse_args()
    onnxruntime.set_default_logger_severity(3)
    try:
        torch: Any | None = importlib.import_module("torch")
    except ImportError:
        torch = None
    mlp, images = random_data((784,)), random_data((1, 28, 28))
    cases = [
        Case("MLP 784-128-10, batch 64", 64, 15, lambda: mlp_spec(128), mlp, torch_mlp(128)),
        Case("MLP 784-512-10, batch 64", 64, 9, lambda: mlp_spec(512), mlp, torch_mlp(512)),
        Case("BNNS CNN 1x28x28, batch 32", 32, 7, cnn_spec, images, torch_cnn),
    ]
    if args.profile:
        with tempfile.TemporaryDirectory(prefix="mlspec-profile-") as work:
            for case in cases:
                profile(case, Path(work))
        return
    steps = EPOCHS_PER_BLOCK * BATCHES_PER_EPOCH
    print(f"AdamW, steps/s: median over alternating blocks of {steps} steps ({EPOCHS_PER_BLOCK} epochs)")
    print(
        f"{'model':<28} {'mlspec':>8} {'portable':>8} {'raw ORT':>8} {'ORT dflt':>8} {'torch':>8} "
        f"{'mlspec/ORT':>11} {'portable/mlspec':>16} {'mlspec/torch':>13}"
    )
    with tempfile.TemporaryDirectory(prefix="mlspec-bench-") as work:
        for case in cases:
            rates = measure(case, max(2, int(case.blocks * args.scale)), torch, Path(work))
            ours, ort, theirs = rates["mlspec"], rates["ort"], rates.get("torch")
            torch_text = f"{theirs:8.0f}" if theirs else f"{'n/a':>8}"
            ratio = f"{ours / theirs:12.2f}x" if theirs else f"{'n/a':>13}"
            mine = rates.get("portable")
            portable_text = f"{mine:8.0f}" if mine else f"{'n/a':>8}"
            portable_ratio = f"{mine / ours:15.2f}x" if mine else f"{'n/a':>16}"
            print(
                f"{case.name:<28} {ours:8.0f} {portable_text} {ort:8.0f} {rates['ort-defaults']:8.0f} "
                f"{torch_text} {ours / ort:11.1%} {portable_ratio} {ratio}"
            )
    print("mlspec: the Trainer on ort-training artifacts; portable: the Trainer on portable artifacts")
    print("raw ORT: the same session options as mlspec; ORT dflt: onnxruntime's default options")
    if torch is None:
        print(
            "torch is not installed: the torch column needs the `bench` extra (pip install 'mlspec[bench]')"
        )


if __name__ == "__main__":
    main()
