"""Long fuzzing run of import-onnx and import-coreml: mutated files, counted outcomes.

Every input i is mutators.mutate(seed model i % seeds, Random(f"{seed}:{i}")), so any finding is
reproduced from (kind, seed, index) alone (`--start i --count 1 --keep DIR` writes the file).
Imports run in a worker process under an address-space limit; when the worker dies by a signal
or stops answering, the input it was on is counted as a signal or a hang, its file is kept, and
a new worker resumes after it. Outcomes:

- ok: imported;
- error:<Class>: an mlspec error (MlspecError) whose message names the file: the goal;
- error:<Class>(malformed): caught only at the importer's boundary (importers/boundary.py), so a
  check to add;
- unnamed:<Class>: an mlspec error that does not name the file;
- internal:<Type>: any other exception (what the CLI reports as "internal error");
- valid-unconvertible:<Type>: (specs) validate accepted the spec but convert failed with <Type>;
- signal:<NAME>, hang: the worker died or stalled.

Run from the repository root, at low priority on a shared machine:
    nice -n 19 .venv/bin/python -m tools.fuzz.import_fuzz --kind onnx --count 100000
It prints a summary (count, outcomes by kind, signals, peak RSS, time) and exits 1 when any
input ended other than ok or error:*.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import random
import resource
import selectors
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import onnx
from google.protobuf.message import Message

from mlspec._proto import model_pb2
from mlspec.convert.importers import onnx_native
from mlspec.convert.importers.boundary import MALFORMED
from mlspec.spec.errors import MlspecError, ValidationError
from tools.fuzz import spec_fuzz
from tools.fuzz.mutators import coreml_seeds, mutate, onnx_seeds

SUFFIX = {"onnx": ".onnx", "coreml": ".mlmodel", "spec": ".mlspec"}
GOOD = ("ok", "error:")


def make_input(kind: str, seed: int, index: int, seeds: list[bytes]) -> bytes:
    if kind == "spec":
        return spec_fuzz.as_file(
            mutate(seeds[index % len(seeds)], model_pb2.Model, random.Random(f"{seed}:{index}"))
        )
    root: type[Message] = onnx.ModelProto if kind == "onnx" else _coreml_root()
    return mutate(seeds[index % len(seeds)], root, random.Random(f"{seed}:{index}"))


@functools.cache
def seeds_for(kind: str) -> list[bytes]:
    if kind == "spec":
        return spec_fuzz.spec_seeds()
    return onnx_seeds() if kind == "onnx" else coreml_seeds()


def _coreml_root() -> type[Message]:
    from coremltools.proto import Model_pb2  # noqa: PLC0415 (optional dependency)

    root: type[Message] = Model_pb2.Model
    return root


def importer(kind: str) -> Callable[[Path], Any]:
    from mlspec.convert.importers import import_coreml, import_onnx  # noqa: PLC0415

    if kind == "spec":
        return spec_fuzz.load_validate_convert
    return import_onnx if kind == "onnx" else import_coreml


def outcome(kind: str, path: Path) -> tuple[str, str]:
    """The outcome label and, for anything but ok, the message."""
    try:
        importer(kind)(path)
    except spec_fuzz.ValidButUnconvertibleError as exc:
        cause = exc.__cause__
        return f"valid-unconvertible:{type(cause).__name__}", str(exc)[:300] + _site(cause)
    except MlspecError as exc:
        named = str(path) in str(exc) or isinstance(exc, ValidationError)  # problems name fields
        caught = "(malformed)" if MALFORMED in str(exc) else ""
        return f"{'error' if named else 'unnamed'}:{type(exc).__name__}{caught}", str(exc)[:300] + _site(
            exc.__cause__
        )
    except Exception as exc:  # what the CLI would call an internal error
        return f"internal:{type(exc).__name__}", str(exc)[:200] + _site(exc)
    return "ok", ""


def _site(exc: BaseException | None) -> str:
    """ " at file:line" of the innermost mlspec frame that raised `exc`, "" without one."""
    if exc is None:
        return ""
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if "mlspec" in f.filename] or [
        *traceback.extract_tb(exc.__traceback__)
    ]
    return f" at {Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else ""


def worker(kind: str, seed: int, start: int, end: int, memory_limit_mib: int, *, in_worker: bool) -> None:
    """Import inputs start..end-1, printing one JSON line per input."""
    limit = memory_limit_mib * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    # This worker is the disposable child: onnx's native steps run in it rather than in a fork per
    # input (6x the rate on a loaded machine), and a crash there kills the worker, which the parent
    # counts as signal:<NAME>, where the fork would have turned it into an OnnxImportError.
    onnx_native.ISOLATED = not in_worker
    records = os.fdopen(os.dup(1), "w")
    os.dup2(2, 1)  # whatever the importers' dependencies print must not mix with the records
    seeds = seeds_for(kind)
    with tempfile.TemporaryDirectory(prefix="mlspec-fuzz-") as folder:
        path = Path(folder) / f"input{SUFFIX[kind]}"
        for index in range(start, end):
            path.write_bytes(make_input(kind, seed, index, seeds))
            label, message = outcome(kind, path)
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
            children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
            record = {"i": index, "o": label, "m": message, "rss": rss, "child_rss": children}
            records.write(json.dumps(record) + "\n")
            records.flush()


@dataclass
class Tally:
    counts: Counter[str] = field(default_factory=Counter)
    examples: dict[str, tuple[int, str]] = field(default_factory=dict)
    peak: dict[str, int] = field(default_factory=lambda: {"rss_mib": 0, "child_rss_mib": 0})
    deadline: float = float("inf")
    out_of_time: bool = False


def drive(args: argparse.Namespace) -> dict[str, Any]:
    started = time.monotonic()
    tally = Tally(deadline=started + args.seconds if args.seconds else float("inf"))
    counts, examples, peak = tally.counts, tally.examples, tally.peak
    next_index, end = args.start, args.start + args.count
    signal.signal(signal.SIGTERM, _stop)  # `kill PID` ends the run with its summary so far
    while next_index < end:
        try:
            last = _run_worker(args, next_index, end, tally)
        except _StopError:
            tally.out_of_time = True
        if tally.out_of_time:
            break
        if last + 1 < end:  # the worker died on input last + 1 (or stalled there)
            failed = last + 1
            label = examples.pop("_last_failure", (failed, "hang"))[1]
            counts[label] += 1
            examples.setdefault(label, (failed, ""))
            _keep(args, failed, None)
        next_index = last + 2
    elapsed = time.monotonic() - started
    bad = {k: v for k, v in counts.items() if not k.startswith(GOOD)}
    return {
        "kind": args.kind,
        "seed": args.seed,
        "stopped_early": tally.out_of_time,  # time budget or SIGTERM
        "inputs": sum(counts.values()),
        "seconds": round(elapsed, 1),
        "inputs_per_second": round(sum(counts.values()) / max(elapsed, 1e-9), 1),
        "outcomes": dict(counts.most_common()),
        "not_mlspec_errors": sum(bad.values()),
        "signals": sum(v for k, v in counts.items() if k.startswith("signal:")),
        "peak_rss_mib": peak,
        "examples": {k: v for k, v in examples.items() if "(malformed)" in k or not k.startswith(GOOD)},
    }


class _StopError(Exception):
    """SIGTERM or Ctrl-C: stop, kill the worker, print what ran."""


def _stop(signum: int, frame: object) -> None:
    raise _StopError


def _run_worker(args: argparse.Namespace, start: int, end: int, tally: Tally) -> int:
    """Run one worker from `start`; the index of the last input it finished (start - 1 if none)."""
    command = [sys.executable, "-m", "tools.fuzz.import_fuzz", "--worker", "--kind", args.kind]
    command += ["--seed", str(args.seed), "--start", str(start), "--count", str(end - start)]
    command += ["--memory-limit-mib", str(args.memory_limit_mib)]
    command += [] if args.native_in_worker else ["--native-in-fork"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        return _follow(args, process, start, tally)
    except (_StopError, KeyboardInterrupt):
        process.kill()
        process.wait()
        raise _StopError from None


def _follow(args: argparse.Namespace, process: subprocess.Popen[bytes], start: int, tally: Tally) -> int:
    counts, examples, peak = tally.counts, tally.examples, tally.peak
    assert process.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(process.stdout, selectors.EVENT_READ)
    last = start - 1
    while True:
        if time.monotonic() > tally.deadline:
            process.kill()
            process.wait()
            tally.out_of_time = True
            return last
        if not selector.select(timeout=args.timeout):
            process.kill()
            process.wait()
            examples["_last_failure"] = (last + 1, "hang")
            return last
        line = process.stdout.readline()
        if not line:
            break
        record = json.loads(line)
        last = record["i"]
        counts[record["o"]] += 1
        site = (
            record["o"]
            if record["o"].startswith(GOOD)
            else f"{record['o']} {record['m'].rsplit(' at ', 1)[-1]}"
        )
        examples.setdefault(site, (last, record["m"]))
        peak["rss_mib"] = max(peak["rss_mib"], record["rss"])
        peak["child_rss_mib"] = max(peak["child_rss_mib"], record["child_rss"])
        if not record["o"].startswith(GOOD):
            _keep(args, last, None)
        if args.progress and (last - args.start + 1) % args.progress == 0:
            print(
                f"{last - args.start + 1} inputs: {dict(counts.most_common())}", file=sys.stderr, flush=True
            )
    code = process.wait()
    if code < 0:
        examples["_last_failure"] = (last + 1, f"signal:{signal.Signals(-code).name}")
    elif code != 0:
        examples["_last_failure"] = (last + 1, f"exit:{code}")
    return last


def _keep(args: argparse.Namespace, index: int, seeds: list[bytes] | None) -> None:
    if args.keep is None:
        return
    folder = Path(args.keep)
    folder.mkdir(parents=True, exist_ok=True)
    data = make_input(args.kind, args.seed, index, seeds or seeds_for(args.kind))
    (folder / f"{args.kind}-{args.seed}-{index}{SUFFIX[args.kind]}").write_bytes(data)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--kind", choices=sorted(SUFFIX), required=True)
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--start", type=int, default=0)
    parser.add_argument(
        "--timeout", type=float, default=120, help="seconds without progress that count as a hang"
    )
    parser.add_argument(
        "--memory-limit-mib", type=int, default=4096, help="address-space limit of the worker"
    )
    parser.add_argument("--keep", help="folder for the files of inputs that did not end in ok or error:*")
    parser.add_argument("--report", help="write the summary as JSON here too")
    parser.add_argument("--seconds", type=float, default=0, help="stop after this long (0: no limit)")
    parser.add_argument("--progress", type=int, default=0, help="print counts every N inputs")
    parser.add_argument(
        "--native-in-fork",
        dest="native_in_worker",
        action="store_false",
        help="run onnx's native steps in a fork per input, as import-onnx does (default: in the worker)",
    )
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(
            args.kind,
            args.seed,
            args.start,
            args.start + args.count,
            args.memory_limit_mib,
            in_worker=args.native_in_worker,
        )
        return 0
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    summary = drive(args)
    text = json.dumps(summary, indent=2)
    print(text)
    if args.report:
        Path(args.report).write_text(text + "\n")
    return 1 if summary["not_mlspec_errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
