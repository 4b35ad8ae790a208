"""Benchmark: wall time of the quick CLI commands as whole processes, beside the import floor.

The floor is `python -c "import numpy, google.protobuf"` in the same interpreter: every mlspec
command needs both, so no command can start faster. Each contestant (the floor, `mlspec --help`,
`inspect`, `validate` and `dump` on a small MLP spec) runs as a fresh process, in turn, ROUNDS
times; the median of each is reported with its ratio to the floor's median, which is measured
in the same run so machine load affects both alike, in wall time and in CPU time (user + system,
steadier on a loaded machine). Goal (issue 11): every command within 2.0x.

Every process reads compiled bytecode, as an installed package does: the runs write it under a
scratch PYTHONPYCACHEPREFIX during the warm-up round. Without that, an environment that sets
PYTHONDONTWRITEBYTECODE (as some shells and CI images do) makes each run of an editable install
recompile mlspec's sources (about 0.15 s for `validate`) while numpy and protobuf, compiled when
pip installed them, do not: the ratio would then time the compiler, not the start-up.

Run with `.venv/bin/python tools/bench/cli_latency.py [--rounds N]`. A measurement, not a test:
it prints figures and never fails on timing (tests/cli/test_startup.py checks what is imported).
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from mlspec.builder import NetworkBuilder, SgdParams
from mlspec.spec.io import save

GOAL = 2.0


def small_spec(path: Path) -> None:
    """A 784-128-10 classifier with its last layer updatable: the README's walkthrough size."""
    builder = NetworkBuilder(mode="classifier", class_labels=[str(c) for c in range(10)], name="small")
    builder.add_input("x", (784,))
    builder.add_inner_product("fc1", "x", 128, output="h1")
    builder.add_activation("relu1", "h1", "relu", output="a1")
    builder.add_inner_product("fc2", "a1", 10, output="logits")
    builder.add_softmax("softmax", "logits", output="probs")
    builder.make_updatable(["fc2"])
    builder.set_loss("categorical_cross_entropy", "probs")
    builder.set_optimizer(SgdParams())
    builder.set_epochs(5, (1, 100))
    save(builder.spec, path)


def contestants(spec: Path) -> dict[str, list[str]]:
    mlspec = [sys.executable, "-m", "mlspec"]
    return {
        "floor: import numpy, google.protobuf": [sys.executable, "-c", "import numpy, google.protobuf"],
        "mlspec --help": [*mlspec, "--help"],
        "mlspec inspect": [*mlspec, "inspect", str(spec)],
        "mlspec validate": [*mlspec, "validate", str(spec)],
        "mlspec dump": [*mlspec, "dump", str(spec)],
    }


def bytecode_env(cache: Path) -> dict[str, str]:
    """This environment, with compiled bytecode written to and read from `cache` for every module."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    return {**env, "PYTHONPYCACHEPREFIX": str(cache)}


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system) of one run of `command`.

    CPU time is reported beside wall time because on a shared machine the wall time of a short
    process swings with other jobs' load far more than the CPU time it needs."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="runs of each command, taken in turn")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlspec-cli-latency-") as scratch:
        spec = Path(scratch) / "small.mlspec"
        small_spec(spec)
        commands = contestants(spec)
        env = bytecode_env(Path(scratch) / "pycache")
        for command in commands.values():  # warm the file cache and write the bytecode
            timed(command, env)
        times: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for _ in range(args.rounds):
            for name, command in commands.items():
                times[name].append(timed(command, env))
    walls = {name: statistics.median(wall for wall, _ in values) for name, values in times.items()}
    cpus = {name: statistics.median(cpu for _, cpu in values) for name, values in times.items()}
    floor_wall, floor_cpu = next(iter(walls.values())), next(iter(cpus.values()))
    print(f"goal <= {GOAL:.1f}x the floor; medians of {args.rounds} rounds")
    print(f"{'command':<40} {'wall s':>8} {'x floor':>8} {'cpu s':>8} {'x floor':>8}")
    for name in commands:
        print(
            f"{name:<40} {walls[name]:8.3f} {walls[name] / floor_wall:8.2f} "
            f"{cpus[name]:8.3f} {cpus[name] / floor_cpu:8.2f}"
        )


if __name__ == "__main__":
    main()
