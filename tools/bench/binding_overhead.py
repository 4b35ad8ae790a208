"""Benchmark: what one portable training step costs beyond ONNX Runtime's run of the step model.

Two loops train the same tiny network (dense 4 -> 2, cross-entropy, AdamW, batch 8; its graph
runs in microseconds, so what is left is binding and Python):
- session: `PortableSession.train_step(feeds)`, what the Trainer calls each step (rebinds the
  batch, bumps the step count, runs, swaps the parameter sets, reads the loss);
- floor: `run_with_iobinding` on one IO binding made once from the same artifacts, everything
  already bound, nothing swapped or read: the least a Python loop can do per step.
The per-step binding overhead is the difference of their medians over alternating blocks, so
load from other processes hits both alike; it is printed in wall time and in the process's CPU
time, which other processes on a busy machine disturb far less (a step is a few microseconds of
work, and a wall-clock block also counts the time the scheduler gives to others). Goal (issue
13): under 5 us. Run with

    .venv/bin/python tools/bench/binding_overhead.py [--blocks N]

A measurement, not a test: it prints figures and never fails on timing.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime

from mlspec.backends import open_session, to_training_artifacts
from mlspec.backends.portable.artifacts import LOOP, STATE, STEP_MODEL
from mlspec.backends.portable.state import read_state
from mlspec.backends.shared import session_options
from mlspec.builder import AdamWParams, NetworkBuilder

GOAL_US = 5.0
BATCH = 8
STEPS_PER_BLOCK = 2000


def tiny_spec() -> Any:
    builder = NetworkBuilder(class_labels=["a", "b"], seed=0)
    builder.add_input("x", [4])
    builder.add_inner_product("fc", "x", 2, output="logits")
    builder.add_softmax("probs", "logits")
    builder.make_updatable(["fc"])
    builder.set_loss("categorical_cross_entropy", "probs")
    builder.set_optimizer(AdamWParams(lr=1e-3, batch=BATCH))
    builder.set_epochs(1, (1, 10))
    return builder.spec


def session_loop(directory: Path, feeds: dict[str, np.ndarray]) -> Callable[[int], None]:
    session = open_session(directory)

    def run(steps: int) -> None:
        for _ in range(steps):
            session.train_step(feeds)

    return run


def floor_loop(directory: Path, feeds: dict[str, np.ndarray]) -> Callable[[int], None]:
    """Every input and output bound once, from loop.json and the state file (as Node does)."""
    loop = json.loads((directory / LOOP).read_text(encoding="utf-8"))
    tensors, _ = read_state(directory / STATE)
    session = onnxruntime.InferenceSession(os.fspath(directory / STEP_MODEL), session_options())
    binding = session.io_binding()
    inputs: dict[str, np.ndarray] = dict(feeds)
    for pair in loop["carried"]:
        inputs[pair["input"]] = tensors[pair["input"]]
    for name in loop["anchors"]:
        inputs[name] = tensors[name]
    for name, entry in loop["hyperparameters"].items():
        inputs[entry["input"]] = np.array(1e-3 if name == "learning_rate" else 0.9, dtype=np.float32)
    if loop["step_input"]:
        inputs[loop["step_input"]] = np.array(1.0, dtype=np.float32)
    names = [output.name for output in session.get_outputs()]
    first = session.run(names, inputs)  # the output shapes, to allocate each output once
    values = [onnxruntime.OrtValue.ortvalue_from_numpy(np.ascontiguousarray(a)) for a in inputs.values()]
    for name, value in zip(inputs, values, strict=True):
        binding.bind_ortvalue_input(name, value)
    for name, array in zip(names, first, strict=True):
        values.append(onnxruntime.OrtValue.ortvalue_from_numpy(np.empty_like(array)))
        binding.bind_ortvalue_output(name, values[-1])

    def run(steps: int) -> None:
        for _ in range(steps):
            session.run_with_iobinding(binding)

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=15, help="alternating timed blocks per loop")
    args = parser.parse_args()
    onnxruntime.set_default_logger_severity(3)
    rng = np.random.default_rng(0)
    feeds: dict[str, np.ndarray] = {
        "x": rng.standard_normal((BATCH, 4), dtype=np.float32),
        "label": rng.integers(0, 2, BATCH),
    }
    with tempfile.TemporaryDirectory(prefix="mlspec-binding-") as work:
        directory = Path(work) / "tiny"
        to_training_artifacts(tiny_spec(), directory, backend="portable")
        loops = {"session": session_loop(directory, feeds), "floor": floor_loop(directory, feeds)}
        times: dict[str, list[float]] = {name: [] for name in loops}
        cpu: dict[str, list[float]] = {name: [] for name in loops}
        for run in loops.values():
            run(200)  # warm-up
        for index in range(args.blocks):
            order = list(loops) if index % 2 == 0 else list(reversed(loops))
            for name in order:
                start, start_cpu = time.perf_counter(), time.process_time()
                loops[name](STEPS_PER_BLOCK)
                times[name].append((time.perf_counter() - start) / STEPS_PER_BLOCK * 1e6)
                cpu[name].append((time.process_time() - start_cpu) / STEPS_PER_BLOCK * 1e6)
    wall = {name: statistics.median(values) for name, values in times.items()}
    used = {name: statistics.median(values) for name, values in cpu.items()}
    load = os.getloadavg()[0]
    print(f"portable step, tiny network (dense 4->2, batch {BATCH}, AdamW); load average {load:.2f}")
    print(f"{'':31}{'wall':>9}{'CPU':>12}")
    print(f"  PortableSession.train_step {wall['session']:7.2f} us {used['session']:8.2f} us per step")
    print(f"  run_with_iobinding alone   {wall['floor']:7.2f} us {used['floor']:8.2f} us per step")
    print(
        f"  binding overhead per step  {wall['session'] - wall['floor']:7.2f} us "
        f"{used['session'] - used['floor']:8.2f} us (goal < {GOAL_US:.0f} us)"
    )


if __name__ == "__main__":
    main()
