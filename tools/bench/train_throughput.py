"""Benchmark: training steps per second of both mlspec backends, a raw ORT loop and PyTorch eager.

The Trainer runs over onnxruntime-training artifacts (the ort-training backend) and over the
portable backend's standard-ONNX step model on a stock InferenceSession (portable; n/a where
that backend does not cover the network), each twice: with mlspec's session options
(mlspec.backends.shared.session_options: graph optimisation ALL, the default intra-op thread
count, threads sleeping between ops) and with MLSPEC_ORT_SPINNING=1 (threads spinning, ONNX
Runtime's own default), so each backend is also compared at its best setting. Which setting wins
depends on the machine's load: both are printed, with the load average at the start and end.

Goals (issue 13): the portable backend at least the ort-training backend's steps/s and at least
2x PyTorch eager. Every contestant runs the same optimizer: AdamW (the default) or, with
`--optimizer sgd`, SGD with momentum 0.9 (the optimizer Core ML's updatable models mostly use),
which shows how much of a gap is the optimizer's. Run with

    .venv/bin/python tools/bench/train_throughput.py [--optimizer sgd] [--torch-python PATH]

PyTorch never enters mlspec's venv: the torch column runs tools/bench/torch_worker.py in a
Python that has torch 2.x (--torch-python, e.g. a side venv under ~/.cache/mlspec/), driven over
a pipe so its blocks alternate with the others'; without one the column says n/a. The
contestants train the same network on the same data in alternating blocks of a few epochs, and
each one's median block rate is reported, so load from other processes hits them alike. The
Trainer's blocks include its per-call data checks. This is a measurement, not a test: it never
fails on timing. With --profile it instead runs ORT's profiler over each case's training model
and prints which nodes the step's time goes to.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import importlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime

from mlspec._proto import model_pb2
from mlspec.backends.ort_training.ort import training_session_options  # registers torch-free ORT training
from mlspec.backends.portable.artifacts import NotCoveredError
from mlspec.backends.shared import SPINNING_VARIABLE, session_options
from mlspec.builder import AdamWParams, NetworkBuilder, SgdParams
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
    torch_case: str  # the network's name in torch_worker.py
    optimizer: str  # one of OPTIMIZERS


OPTIMIZERS = ("adamw", "sgd")
MOMENTUM = 0.9  # SGD's, here and in torch_worker.py


def _finish(builder: NetworkBuilder, updatable: list[str], batch: int, optimizer: str) -> model_pb2.Model:
    builder.add_softmax("probs", "logits")
    builder.make_updatable(updatable)
    builder.set_loss("categorical_cross_entropy", "probs")
    if optimizer == "sgd":
        builder.set_optimizer(SgdParams(lr=LEARNING_RATE, batch=batch, momentum=MOMENTUM))
    else:
        builder.set_optimizer(AdamWParams(lr=LEARNING_RATE, batch=batch))
    builder.set_epochs(1, (1, 100_000))
    builder.set_shuffle(False)
    return builder.spec


def mlp_spec(hidden: int, optimizer: str) -> model_pb2.Model:
    builder = NetworkBuilder(class_labels=CLASSES, seed=0)
    builder.add_input("x", [784])
    builder.add_inner_product("fc1", "x", hidden)
    builder.add_activation("relu", "fc1", "relu")
    builder.add_inner_product("fc2", "relu", 10, output="logits")
    return _finish(builder, ["fc1", "fc2"], 64, optimizer)


def cnn_spec(optimizer: str) -> model_pb2.Model:
    """Apple's BNNS training sample shape: conv -> batch norm -> relu -> max pool -> dense."""
    builder = NetworkBuilder(class_labels=CLASSES, seed=0)
    builder.add_input("x", [1, 28, 28])
    builder.add_convolution("conv", "x", 8, (3, 3), padding="same")
    builder.add_batch_norm("bn", "conv")
    builder.add_activation("relu", "bn", "relu")
    builder.add_pooling("pool", "relu", "max", (2, 2), strides=(2, 2))
    builder.add_flatten("flat", "pool")
    builder.add_inner_product("fc", "flat", 10, output="logits")
    return _finish(builder, ["conv", "bn", "fc"], 32, optimizer)


def random_data(shape: tuple[int, ...]) -> Callable[[int], Arrays]:
    def make(count: int) -> Arrays:
        rng = np.random.default_rng(0)
        return rng.standard_normal((count, *shape), dtype=np.float32), rng.integers(0, 10, count)

    return make


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
    """The same network and optimizer in PyTorch eager mode, in tools/bench/torch_worker.py's process."""

    def __init__(self, worker: subprocess.Popen[str], case: Case) -> None:
        self.worker = worker
        self._ask(f"new {case.torch_case} {case.optimizer}")

    def _ask(self, command: str) -> str:
        assert self.worker.stdin is not None and self.worker.stdout is not None
        self.worker.stdin.write(command + "\n")
        self.worker.stdin.flush()
        answer = self.worker.stdout.readline()
        if not answer:
            raise SystemExit(f"torch worker stopped (exit code {self.worker.wait()}) after {command!r}")
        return answer

    def warm_up(self) -> None:
        pass  # `new` ran one epoch

    def block(self) -> int:
        return int(self._ask("block"))


def measure(case: Case, blocks: int, torch: subprocess.Popen[str] | None, work: Path) -> dict[str, float]:
    """Steps/s of each contestant over `blocks` blocks of a few epochs, taken in turn.

    Alternating short blocks (not long runs one after another) means a burst of load from other
    processes hits every contestant alike; the median block rate discards the bursts. Each block
    gets a fresh session (built and warmed up untimed), because one session's buffer placement
    can make it steadily a few percent faster or slower than another's.
    """
    data = case.data(case.batch * BATCHES_PER_EPOCH)
    directory = Trainer.from_spec(case.build(), work / case.name).artifact_dir
    factories: dict[str, Callable[[], Any]] = {
        "mlspec": _spinning(False, lambda: MlspecContestant(directory, data, case.batch)),
        "mlspec spin": _spinning(True, lambda: MlspecContestant(directory, data, case.batch)),
        # The same session options as mlspec's backend: isolates the runtime's own overhead.
        "ort": _spinning(
            False, lambda: RawOrtContestant(directory, data, case.batch, training_session_options())
        ),
        # ORT's defaults (intra-op threads spin between calls): what a first hand-written loop gets.
        "ort-defaults": lambda: RawOrtContestant(directory, data, case.batch, None),
    }
    try:
        portable = Trainer.from_spec(
            case.build(), work / f"{case.name} portable", backend="portable"
        ).artifact_dir
        factories["portable"] = _spinning(False, lambda: MlspecContestant(portable, data, case.batch))
        factories["portable spin"] = _spinning(True, lambda: MlspecContestant(portable, data, case.batch))
    except NotCoveredError:
        pass
    if torch is not None:
        factories["torch"] = lambda: TorchContestant(torch, case)
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


def _spinning(on: bool, factory: Callable[[], Any]) -> Callable[[], Any]:
    """`factory` run with MLSPEC_ORT_SPINNING set to `on` (sessions read it when they open)."""

    def make() -> Any:
        with _environment(SPINNING_VARIABLE, "1" if on else "0"):
            return factory()

    return make


@contextlib.contextmanager
def _environment(name: str, value: str) -> Iterator[None]:
    previous = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if previous is None:
            del os.environ[name]
        else:
            os.environ[name] = previous


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


def _torch_worker(python: str | None) -> subprocess.Popen[str] | None:
    """torch_worker.py under `python`, or under this interpreter when it has torch (the `bench`
    extra), else None."""
    if python is None:
        if importlib.util.find_spec("torch") is None:
            return None
        python = sys.executable
    worker = Path(__file__).with_name("torch_worker.py")
    return subprocess.Popen(
        [python, os.fspath(worker)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1
    )


def _ratio(numerator: float | None, denominator: float | None, width: int) -> str:
    if not numerator or not denominator:
        return f"{'n/a':>{width}}"
    return f"{numerator / denominator:{width - 1}.2f}x"


def _rate(value: float | None) -> str:
    return f"{value:10.0f}" if value else f"{'n/a':>10}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply the number of blocks")
    parser.add_argument("--profile", action="store_true", help="per-node time breakdown instead")
    parser.add_argument("--torch-python", help="a Python with torch 2.x for the torch column (a side venv)")
    parser.add_argument(
        "--optimizer", choices=OPTIMIZERS, default="adamw", help="every contestant's optimizer"
    )
    args = parser.parse_args()
    onnxruntime.set_default_logger_severity(3)
    mlp, images = random_data((784,)), random_data((1, 28, 28))
    opt = args.optimizer
    cases = [
        Case("MLP 784-128-10, batch 64", 64, 15, lambda: mlp_spec(128, opt), mlp, "mlp128", opt),
        Case("MLP 784-512-10, batch 64", 64, 9, lambda: mlp_spec(512, opt), mlp, "mlp512", opt),
        Case("BNNS CNN 1x28x28, batch 32", 32, 7, lambda: cnn_spec(opt), images, "cnn", opt),
    ]
    if args.profile:
        with tempfile.TemporaryDirectory(prefix="mlspec-profile-") as work:
            for case in cases:
                profile(case, Path(work))
        return
    torch = _torch_worker(args.torch_python)
    options = session_options()
    steps = EPOCHS_PER_BLOCK * BATCHES_PER_EPOCH
    named = "AdamW" if opt == "adamw" else f"SGD with momentum {MOMENTUM}"
    print(f"{named}, steps/s: median over alternating blocks of {steps} steps ({EPOCHS_PER_BLOCK} epochs)")
    threads = options.intra_op_num_threads or f"default (one per core, {os.cpu_count()} cores)"
    print(
        f"ONNX Runtime {onnxruntime.__version__}, both backends: graph optimisation "
        f"{options.graph_optimization_level.name}, intra-op threads {threads}; threads sleep between "
        f"ops, or spin with {SPINNING_VARIABLE}=1 (the 'spin' columns); "
        f"load average {os.getloadavg()[0]:.2f} at the start"
    )
    columns = ["ort-trn", "ort spin", "portable", "port spin", "raw ORT", "ORT dflt", "torch"]
    ratios = ["port/ort", "best/best", "best port/torch", "ort-trn/raw"]
    print(f"{'model':<28}" + "".join(f"{c:>10}" for c in columns) + "".join(f"{r:>16}" for r in ratios))
    try:
        with tempfile.TemporaryDirectory(prefix="mlspec-bench-") as work:
            for case in cases:
                rates = measure(case, max(2, int(case.blocks * args.scale)), torch, Path(work))
                ours, mine, theirs = rates["mlspec"], rates.get("portable"), rates.get("torch")
                best_ours = max(ours, rates["mlspec spin"])
                best_mine = max(mine, rates["portable spin"]) if mine else None
                row = [ours, rates["mlspec spin"], mine, rates.get("portable spin"), rates["ort"]]
                row += [rates["ort-defaults"], theirs]
                print(
                    f"{case.name:<28}"
                    + "".join(_rate(value) for value in row)
                    + _ratio(mine, ours, 16)
                    + _ratio(best_mine, best_ours, 16)
                    + _ratio(best_mine, theirs, 16)
                    + f"{ours / rates['ort']:16.1%}"
                )
    finally:
        if torch is not None:
            assert torch.stdin is not None
            torch.stdin.close()
            torch.wait()
    print(f"load average {os.getloadavg()[0]:.2f} at the end")
    print("ort-trn: the Trainer on ort-training artifacts; portable: the Trainer on portable artifacts;")
    print(f"  'spin': the same with {SPINNING_VARIABLE}=1; best/best: each backend at its faster setting")
    print("raw ORT: a hand-written onnxruntime.training loop, same options; ORT dflt: ORT's default options")
    if torch is None:
        print("torch: n/a (no --torch-python given and no torch in this venv)")
    else:
        print("torch: PyTorch eager in tools/bench/torch_worker.py (torch's default thread count)")


if __name__ == "__main__":
    main()
