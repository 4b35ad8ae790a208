"""Benchmark: time against model size for the commands that walk every layer, up to 100k layers.

Each case builds a model of n layers, times the operation, and times the strongest alternative
doing the least the same input needs, side by side in the same run. For import-onnx that floor is
onnx itself reading the file and inferring its shapes (onnx.load + shape_inference.infer_shapes),
which every import must do anyway. For validate and inspect it is reading the spec (mlspec.load:
protobuf's C parser), which both must do first; for convert it is onnx's checker on the ONNX
graph convert writes, which every converter producing a checked ONNX file must run. The spec
cases are a chain of updatable 2x2 dense layers (every layer trains, so validation's gradient-path
rule and convert's backprop planning see n updatable layers) and a chain of ReLU layers.
Printed per size: seconds, microseconds per layer, the growth of time per layer against the
previous size (1.0 = linear; a quadratic step shows as ~10 for 10x the layers), and the ratio to
the floor.

Each case and size runs in a fresh process, as each CLI command does, so no case inherits the
heap of the one before and each gets its own peak RSS (building the input included).

Run with `.venv/bin/python tools/bench/scaling.py [--max 100000]`. A measurement, not a test: it
prints figures and never fails on timing.
"""

from __future__ import annotations

import argparse
import io
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import onnx
from onnx import TensorProto, helper, shape_inference
from rich.console import Console

from mlspec import load, save
from mlspec.backends import to_training_artifacts
from mlspec.builder import inspect_model
from mlspec.cli.inspect_tables import render
from mlspec.convert.importers import import_onnx
from mlspec.spec.graph import class_labels
from mlspec.spec.validate import validate

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # the repository root, for tests.support
from tests.support.chains import updatable_chain


@dataclass(frozen=True)
class Case:
    """One operation, a model of n layers for it, and the floor to compare with."""

    name: str
    build: Callable[[int, Path], Path]
    run: Callable[[Path], object]
    floor_name: str
    floor: Callable[[Path], object]
    max_layers: int = 100_000
    """Sizes past this are skipped, with `why` printed."""
    why: str = ""


def _chain_onnx(op_type: str) -> Callable[[int, Path], Path]:
    def build(layers: int, folder: Path) -> Path:
        nodes = [helper.make_node(op_type, [f"t{i}"], [f"t{i + 1}"], name=f"n{i}") for i in range(layers)]
        graph = helper.make_graph(
            nodes,
            "chain",
            [helper.make_tensor_value_info("t0", TensorProto.FLOAT, ["batch", 8])],
            [helper.make_tensor_value_info(f"t{layers}", TensorProto.FLOAT, ["batch", 8])],
        )
        path = folder / f"{op_type.lower()}-{layers}.onnx"
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)]), path)
        return path

    return build


def _onnx_floor(path: Path) -> object:
    return shape_inference.infer_shapes(onnx.load(str(path)), strict_mode=False, data_prop=True)


def _chain_spec(kind: str) -> Callable[[int, Path], Path]:
    """Writes the scaling tests' chain (tests/support/chains.py) of n layers of `kind` to a file."""

    def build(layers: int, folder: Path) -> Path:
        path = folder / f"{kind}-{layers}.mlspec"
        save(updatable_chain(layers, kind), path)
        return path

    return build


def _validate(path: Path) -> object:
    validate(load(path))
    return None


def _inspect(path: Path) -> object:
    """What `mlspec inspect` does: load, summarise, render the tables."""
    spec = load(path)
    summary = {**inspect_model(spec), "class_labels": class_labels(spec)}
    console = Console(file=io.StringIO(), width=120)
    for renderable in render(summary, title=path.name):
        console.print(renderable)
    return None


def _convert(backend: str) -> Callable[[Path], object]:
    def run(path: Path) -> object:
        with tempfile.TemporaryDirectory() as folder:
            return to_training_artifacts(load(path), Path(folder) / "artifacts", backend=backend)

    return run


_ORT_QUADRATIC = (
    "onnxruntime-training's own graph passes (get_optimized_model, the gradient builder) grow "
    "quadratically in nodes (--sizes 1000 2000 4000 shows it); specs past "
    "mlspec.backends.ORT_LAYER_LIMIT layers convert with portable by default"
)


def _onnx_check(path: Path) -> object:
    """onnx's full check of the same chain written directly with onnx.helper (MatMul per dense
    layer, Relu per ReLU layer)."""
    spec_layers = load(path).network.layers
    nodes = []
    for index, layer in enumerate(spec_layers):
        source = "x" if index == 0 else f"l{index - 1}"
        if layer.WhichOneof("kind") == "inner_product":
            nodes.append(helper.make_node("MatMul", [source, "w"], [f"l{index}"]))
        else:
            nodes.append(helper.make_node("Relu", [source], [f"l{index}"]))
    value = helper.make_tensor_value_info
    graph = helper.make_graph(
        nodes,
        "chain",
        [value("x", TensorProto.FLOAT, ["batch", 2])],
        [value(f"l{len(spec_layers) - 1}", TensorProto.FLOAT, ["batch", 2])],
        [helper.make_tensor("w", TensorProto.FLOAT, [2, 2], [0.0] * 4)],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    onnx.checker.check_model(model, full_check=True)
    return None


CASES = [
    Case("validate dense chain", _chain_spec("dense"), _validate, "mlspec.load", load),
    Case("inspect dense chain", _chain_spec("dense"), _inspect, "mlspec.load", load),
    Case(
        "convert relu chain, portable", _chain_spec("relu"), _convert("portable"), "onnx checker", _onnx_check
    ),
    Case(
        "convert dense chain, portable",
        _chain_spec("dense"),
        _convert("portable"),
        "onnx checker",
        _onnx_check,
    ),
    Case(
        "convert relu chain, ort-training",
        _chain_spec("relu"),
        _convert("ort-training"),
        "onnx checker",
        _onnx_check,
        max_layers=4_000,
        why=_ORT_QUADRATIC,
    ),
    Case("import-onnx Identity chain", _chain_onnx("Identity"), import_onnx, "onnx load+infer", _onnx_floor),
    Case("import-onnx Relu chain", _chain_onnx("Relu"), import_onnx, "onnx load+infer", _onnx_floor),
]


def _seconds(action: Callable[[Path], object], path: Path) -> float:
    started = time.perf_counter()
    action(path)
    return time.perf_counter() - started


def _measure_one(name: str, layers: int) -> None:
    """In a fresh process: build the input, time the case and its floor, print them as JSON."""
    case = next(case for case in CASES if case.name == name)
    with tempfile.TemporaryDirectory() as folder:
        path = case.build(layers, Path(folder))
        elapsed = _seconds(case.run, path)
        floor = _seconds(case.floor, path)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(json.dumps({"seconds": elapsed, "floor": floor, "rss_mib": peak}))


def _measure(name: str, layers: int) -> dict[str, float]:
    command = [sys.executable, __file__, "--one", name, str(layers)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{name} at {layers} layers failed:\n{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout.splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="Time against layers for import (and more).")
    parser.add_argument("--max", type=int, default=100_000, help="largest layer count (default 100000)")
    parser.add_argument("--case", action="append", help="run only cases whose name contains this")
    parser.add_argument(
        "--sizes",
        type=int,
        nargs="+",
        default=[1_000, 10_000, 100_000],
        help="layer counts (default 1k 10k 100k)",
    )
    parser.add_argument("--one", nargs=2, metavar=("CASE", "LAYERS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        _measure_one(args.one[0], int(args.one[1]))
        return
    sizes = [n for n in args.sizes if n <= args.max]
    header = f"{'case':32} {'layers':>8} {'seconds':>9} {'us/layer':>9} {'growth':>7}"
    print(f"{header} {'floor s':>8} {'x floor':>8} {'peak MiB':>9}", flush=True)
    for case in CASES:
        if args.case and not any(part in case.name for part in args.case):
            continue
        previous = 0.0
        for layers in sizes:
            if layers > case.max_layers:
                print(f"{case.name:32} {layers:>8}   skipped: {case.why}", flush=True)
                continue
            result = _measure(case.name, layers)
            elapsed, floor = result["seconds"], result["floor"]
            per_layer = elapsed / layers * 1e6
            growth = f"{per_layer / previous:7.2f}" if previous else f"{'-':>7}"
            previous = per_layer
            print(
                f"{case.name:32} {layers:>8} {elapsed:9.2f} {per_layer:9.1f} {growth} {floor:8.2f} "
                f"{elapsed / floor:8.1f} {result['rss_mib']:9.0f}",
                flush=True,
            )
    print("floors: " + "; ".join(dict.fromkeys(f"{case.name}: {case.floor_name}" for case in CASES)))


if __name__ == "__main__":
    main()
