"""`federate`: many simulated devices train one spec with Flower's simulation runtime.

Each client holds a slice of the data (see partition), trains the global weights on it with the
spec's own settings and allowed values, and returns the exchanged tensors; a Flower strategy
combines them. Flower runs the clients in worker processes (Ray). The whole simulation runs in
a fresh child process: Flower's simulation runtime cannot be started twice in one process (the
second run waits forever), and the caller's process, a notebook or a test session, should not
inherit Ray either. The child sends back the record of every round as it finishes.

A watchdog limits each round: on a loaded machine Ray's raylet crashed ("Timed out waiting") in
15 of 154 sessions and the run then waited forever. The child leads its own process group (Ray's
processes start inside it); when no round finishes within the limit, the parent kills that group
and fails naming the round and the limit.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from mlspec._proto import model_pb2
from mlspec.convert.optimizers import plan_optimizer
from mlspec.federated.flower import STRATEGIES, RoundRecord, RunLog, ServerPlan, client_app, server_app
from mlspec.federated.local import Data, exchanged_names, overrides_from
from mlspec.federated.partition import partition, subsets
from mlspec.runtime.hyperparams import table_from_spec
from mlspec.spec.errors import MlspecError
from mlspec.spec.graph import input_names
from mlspec.spec.validate import validate


class FederatedError(MlspecError):
    """A federated run that cannot start or did not finish its rounds."""


ROUND_TIMEOUT = 600.0
"""Seconds a round may take (round 0: starting Flower and Ray and scoring the starting weights)."""


@dataclass(frozen=True)
class FederatedResult:
    rounds: list[RoundRecord]  # round 0 scores the starting weights
    client_examples: list[int]


def federate(
    spec: model_pb2.Model,
    data: Data,
    *,
    clients: int,
    rounds: int,
    partition_scheme: str,
    output: Path,
    evaluation: Data | None = None,
    strategy: str = "fedavg",
    config: Mapping[str, Any] | None = None,
    seed: int = 0,
    round_timeout: float = ROUND_TIMEOUT,
) -> FederatedResult:
    """Run `rounds` rounds over `clients` simulated clients; the global spec goes to `output`
    after every round. `config` holds hyperparameter overrides sent to every client, each
    checked against the spec's allowed values here and again by every client. A round that does
    not finish within `round_timeout` seconds stops the run (see the module's docstring)."""
    validate(spec)
    if not round_timeout > 0:
        raise FederatedError(f"--round-timeout {round_timeout}: give a number of seconds above 0")
    if not spec.is_updatable:
        raise FederatedError("the spec is not updatable; run mlspec make-updatable first")
    if strategy not in STRATEGIES:
        raise FederatedError(f"--strategy {strategy!r}: use one of {', '.join(STRATEGIES)}")
    if rounds < 1:
        raise FederatedError(f"--rounds {rounds}: need at least 1")
    settings = overrides_from(config or {})
    _check_proximal(spec, strategy, settings)
    chosen = table_from_spec(spec).resolve(settings, source="the server's configuration")
    if strategy == "fedprox":
        settings["proximal_mu"] = chosen.proximal_mu
    parts = partition(data[_label_key(spec, data)], clients, partition_scheme, seed=seed)
    names = exchanged_names(spec)
    job = _Job(
        spec.SerializeToString(),
        names,
        subsets(dict(data), parts),
        dict(evaluation if evaluation is not None else data),
        strategy,
        clients,
        rounds,
        settings,
        output,
    )
    records = supervise(_child_main, (job,), rounds=rounds, limit=round_timeout)
    if len(records) != rounds + 1:
        raise FederatedError(
            f"the run ended after {max(len(records) - 1, 0)} of {rounds} rounds: clients failed "
            "(rerun with MLSPEC_DEBUG=1 to see Flower's log)"
        )
    return FederatedResult(records, [len(part) for part in parts])


@dataclass(frozen=True)
class _Job:
    """Everything the child process needs, all of it picklable."""

    spec_bytes: bytes
    names: tuple[str, ...]
    partitions: Sequence[Data]
    evaluation: Data
    strategy: str
    clients: int
    rounds: int
    settings: dict[str, Any]
    output: Path


def supervise(
    target: Callable[..., None], args: tuple[Any, ...], *, rounds: int, limit: float
) -> list[RoundRecord]:
    """Run target(*args, sender) in a spawned child leading its own process group, collecting
    the ("round", record) messages it sends until ("done", records) or ("failed", text).

    No message within `limit` seconds of the last (or of the start) kills the child's whole
    process group and raises FederatedError naming the round that stalled."""
    context = multiprocessing.get_context("spawn")
    receiver, sender = context.Pipe(duplex=False)
    child = context.Process(target=_own_group, args=(target, args, sender), name="mlspec-federate")
    child.start()
    sender.close()
    finished: list[RoundRecord] = []
    try:
        while True:
            if not receiver.poll(limit):
                _kill_group(child)
                raise FederatedError(
                    f"round {len(finished)} of {rounds} made no progress in {limit:g} s "
                    "(--round-timeout); the simulation and its workers were stopped"
                )
            try:
                kind, payload = receiver.recv()
            except EOFError:
                child.join()
                kind, payload = "failed", f"the simulation process died (exit code {child.exitcode})"
            if kind != "round":
                break
            finished.append(payload)
    finally:
        receiver.close()
        child.join()
    if kind != "done":
        raise FederatedError(str(payload))
    return list(payload)


def _own_group(target: Callable[..., None], args: tuple[Any, ...], sender: Connection) -> None:
    """The child's entry: lead a process group that whatever it starts (Ray) joins, then run."""
    if hasattr(os, "setpgrp"):
        os.setpgrp()
    target(*args, sender)


def _kill_group(child: Any) -> None:
    try:
        os.killpg(child.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, AttributeError):  # gone, or no process groups
        child.kill()
    child.join()


def _child_main(job: _Job, sender: Connection) -> None:
    log = RunLog(on_round=lambda record: sender.send(("round", record)))
    try:
        plan = ServerPlan(job.strategy, job.clients, job.rounds, job.settings, job.evaluation, job.output)
        server = server_app(job.spec_bytes, job.names, plan, log)
        _run(server, client_app(job.spec_bytes, job.names, job.partitions), job.clients)
    except MlspecError as exc:
        sender.send(("failed", str(exc)))
        return
    except Exception as exc:  # Flower or Ray: reported as one line by the parent
        sender.send(("failed", f"Flower's simulation failed ({type(exc).__name__}: {exc})"))
        return
    sender.send(("done", log.rounds))


def _check_proximal(spec: model_pb2.Model, strategy: str, settings: Mapping[str, Any]) -> None:
    if strategy == "fedprox" and not plan_optimizer(spec).has_proximal:
        raise FederatedError(
            "--strategy fedprox: the spec fixes proximal_mu at 0, so FedProx would be FedAvg; "
            "declare its allowed values with mlspec make-updatable --proximal-mu-range LO:HI"
        )
    if strategy != "fedprox" and "proximal_mu" in settings:
        raise FederatedError(f"--mu is FedProx's proximal strength; use --strategy fedprox, not {strategy}")


def _label_key(spec: model_pb2.Model, data: Data) -> str:
    inputs = set(input_names(spec))
    for loss in spec.update_parameters.loss_layers:
        if loss.target not in inputs and loss.target in data:
            return loss.target
    raise FederatedError(
        "the data has no array for the loss target "
        f"({', '.join(loss.target for loss in spec.update_parameters.loss_layers)}), which partitions it"
    )


def _run(server: Any, client: Any, clients: int) -> None:
    from flwr.simulation import run_simulation  # noqa: PLC0415 (starts Ray: load only when running)

    debug = os.environ.get("MLSPEC_DEBUG", "") not in ("", "0")
    # Flower's notices (run_simulation's deprecation, skipped client-side evaluation) and Ray's
    # GPU tip say nothing about a CPU run of mlspec; MLSPEC_DEBUG=1 shows everything.
    logging.getLogger("flwr").setLevel(logging.INFO if debug else logging.ERROR)
    os.environ.setdefault("RAY_ACCEL_ENV_VAR_OVERRIDE_ON_ZERO", "0")
    cpus = os.cpu_count() or 1
    run_simulation(
        server,
        client,
        num_supernodes=clients,
        backend_config={
            "client_resources": {"num_cpus": 1, "num_gpus": 0.0},
            "init_args": {"num_cpus": cpus, "include_dashboard": False, "log_to_driver": debug},
        },
        verbose_logging=debug,
    )
