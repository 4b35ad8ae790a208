"""Benchmark: time against model size for the commands that walk every layer, up to 100k layers.

Each case builds a model of n layers, times the operation, and times the strongest alternative
doing the least the same input needs, side by side in the same run. For import-onnx that floor is
onnx itself reading the file and inferring its shapes (onnx.load + shape_inference.infer_shapes),
which every import must do anyway. Printed per size: seconds, microseconds per layer, the growth of
time per layer against the previous size (1.0 = linear; a quadratic step shows as ~10 for 10x the
layers), and the ratio to the floor.

Run with `.venv/bin/python tools/bench/scaling.py [--max 100000]`. A measurement, not a test: it
prints figures and never fails on timing.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import onnx
from onnx import TensorProto, helper, shape_inference

from mlspec.convert.importers import import_onnx


@dataclass(frozen=True)
class Case:
    """One operation, a model of n layers for it, and the floor to compare with."""

    name: str
    build: Callable[[int, Path], Path]
    run: Callable[[Path], object]
    floor_name: str
    floor: Callable[[Path], object]


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


CASES = [
    Case("import-onnx Identity chain", _chain_onnx("Identity"), import_onnx, "onnx load+infer", _onnx_floor),
    Case("import-onnx Relu chain", _chain_onnx("Relu"), import_onnx, "onnx load+infer", _onnx_floor),
]


def _seconds(action: Callable[[Path], object], path: Path) -> float:
    started = time.perf_counter()
    action(path)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description="Time against layers for import (and more).")
    parser.add_argument("--max", type=int, default=100_000, help="largest layer count (default 100000)")
    parser.add_argument("--case", action="append", help="run only cases whose name contains this")
    args = parser.parse_args()
    sizes = [n for n in (1_000, 10_000, 100_000) if n <= args.max]
    header = f"{'case':32} {'layers':>8} {'seconds':>9} {'us/layer':>9} {'growth':>7}"
    print(f"{header} {'floor s':>8} {'x floor':>8}")
    with tempfile.TemporaryDirectory() as folder:
        for case in CASES:
            if args.case and not any(part in case.name for part in args.case):
                continue
            previous = 0.0
            for layers in sizes:
                path = case.build(layers, Path(folder))
                elapsed = _seconds(case.run, path)
                floor = _seconds(case.floor, path)
                per_layer = elapsed / layers * 1e6
                growth = f"{per_layer / previous:7.2f}" if previous else f"{'-':>7}"
                previous = per_layer
                print(
                    f"{case.name:32} {layers:>8} {elapsed:9.2f} {per_layer:9.1f} {growth} {floor:8.2f} "
                    f"{elapsed / floor:8.1f}"
                )
    print(f"floor: {CASES[0].floor_name}")


if __name__ == "__main__":
    main()
