"""The Flower apps: a ClientApp that trains with mlspec on a client's own examples and returns only
the exchanged tensors, and a ServerApp that runs one of Flower's strategies over them.

The spec travels as bytes (Flower ships the apps to its worker processes); each client's data
is looked up by the partition id Flower's simulation gives its node. After every round the
server scores the global weights and writes them into the output spec atomically, so a run
stopped at any point leaves the last finished round on disk.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import FedAdam, FedAvg, FedProx, Strategy

from mlspec._proto import model_pb2
from mlspec.federated.local import Data, as_float, evaluate_global, local_update, with_weights
from mlspec.spec.io import save
from mlspec.spec.kinds import layer_tensors
from mlspec.spec.weights import to_numpy

STRATEGIES = ("fedavg", "fedprox", "fedadam")


@dataclass(frozen=True)
class RoundRecord:
    round: int  # 0: the starting weights
    loss: float
    accuracy: float | None
    seconds: float


@dataclass
class RunLog:
    """Filled by the server as rounds finish."""

    rounds: list[RoundRecord] = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    on_round: Callable[[RoundRecord], None] | None = None
    """Told of each round as it finishes (the simulation's watchdog hears progress through it)."""

    def add(self, record: RoundRecord) -> None:
        self.rounds.append(record)
        if self.on_round is not None:
            self.on_round(record)


def train_reply(message: Message, spec: model_pb2.Model, names: Sequence[str], data: Data) -> Message:
    """A client's answer to the server's train message: its update of the global weights."""
    config = dict(message.content["config"]) if "config" in message.content else {}
    arrays = message.content.array_records["arrays"].to_numpy_ndarrays()
    update = local_update(spec, names, as_float(arrays), data, config)
    metrics = MetricRecord({"num-examples": update.examples, "train_loss": update.train_loss})
    return Message(RecordDict({"arrays": ArrayRecord(update.arrays), "metrics": metrics}), reply_to=message)


def client_app(spec_bytes: bytes, names: Sequence[str], partitions: Sequence[Data]) -> ClientApp:
    app = ClientApp()

    @app.train()
    def train(message: Message, context: Context) -> Message:
        spec = model_pb2.Model.FromString(spec_bytes)
        return train_reply(message, spec, names, partitions[int(context.node_config["partition-id"])])

    return app


def make_strategy(name: str, clients: int, proximal_mu: float = 0.0) -> Strategy:
    """Flower's strategy `name`; FedProx sends `proximal_mu` to the clients as "proximal-mu"."""
    common: dict[str, Any] = {
        "fraction_evaluate": 0.0,  # the server scores the global model itself
        "min_train_nodes": clients,
        "min_available_nodes": clients,
    }
    if name == "fedavg":
        return FedAvg(**common)
    if name == "fedprox":
        return FedProx(**common, proximal_mu=proximal_mu)
    if name == "fedadam":
        return FedAdam(**common)
    raise ValueError(name)


@dataclass(frozen=True)
class ServerPlan:
    """What the server runs: the strategy over `clients` clients for `rounds` rounds, the round's
    configuration sent to every client, the data it scores on and the spec it writes."""

    strategy: str
    clients: int
    rounds: int
    config: Mapping[str, Any]
    evaluation: Data
    output: Path


def server_app(spec_bytes: bytes, names: Sequence[str], plan: ServerPlan, log: RunLog) -> ServerApp:
    app = ServerApp()
    spec = model_pb2.Model.FromString(spec_bytes)

    @app.main()
    def main(grid: Grid, context: Context) -> None:
        run_rounds(grid, spec, names, plan, log)

    return app


def run_rounds(
    grid: Grid, spec: model_pb2.Model, names: Sequence[str], plan: ServerPlan, log: RunLog
) -> None:
    """The server's whole run: the strategy's rounds, the global model scored and saved after each."""

    def score(server_round: int, arrays: ArrayRecord) -> MetricRecord:
        weights = as_float(arrays.to_numpy_ndarrays())
        loss, accuracy = evaluate_global(spec, names, weights, plan.evaluation)
        if server_round > 0:
            save(with_weights(spec, names, weights), plan.output)
        log.add(RoundRecord(server_round, loss, accuracy, time.monotonic() - log.started))
        metrics: dict[str, int | float | list[int] | list[float]] = {"loss": loss}
        if accuracy is not None:
            metrics["accuracy"] = accuracy
        return MetricRecord(metrics)

    settings = dict(plan.config)
    mu = float(settings.pop("proximal_mu", 0.0))  # FedProx sends it under its own key
    make_strategy(plan.strategy, plan.clients, mu).start(
        grid=grid,
        initial_arrays=ArrayRecord(_initial_arrays(spec, names)),
        num_rounds=plan.rounds,
        train_config=ConfigRecord(settings),
        evaluate_fn=score,
    )


def _initial_arrays(spec: model_pb2.Model, names: Sequence[str]) -> list[Any]:
    found = {
        f"{layer.name}.{field_name}": to_numpy(tensor)
        for layer in spec.network.layers
        for field_name, tensor in layer_tensors(layer)
    }
    return [found[name] for name in names]
