"""Flower deployment: the apps a real SuperLink and SuperNodes run, as separate processes.

`flwr run examples/federated/flower_app <connection> --run-config 'spec="..." output="..."
val="..." rounds=3 clients=3'` ships the app to a running `flower-superlink`; the ServerApp
below runs inside the SuperLink's process tree and each ClientApp inside a SuperNode's. Nothing
but the exchanged tensors crosses between them: the spec and the evaluation data are read from
the paths in the run config, and every SuperNode trains on the .npz file its own
`--node-config 'data="..."'` names. The rounds are the simulation's (flower.run_rounds).
"""

from __future__ import annotations

from pathlib import Path

from flwr.app import Context, Message
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid, ServerApp

from mlspec.federated.flower import RunLog, ServerPlan, run_rounds, train_reply
from mlspec.federated.local import exchanged_names
from mlspec.runtime.data import load_npz
from mlspec.spec.io import load

clientapp = ClientApp()
serverapp = ServerApp()


@clientapp.train()
def train(message: Message, context: Context) -> Message:
    spec = load(Path(str(context.run_config["spec"])))
    data = load_npz(Path(str(context.node_config["data"])))
    return train_reply(message, spec, exchanged_names(spec), data)


@serverapp.main()
def main(grid: Grid, context: Context) -> None:
    settings = context.run_config
    spec = load(Path(str(settings["spec"])))
    plan = ServerPlan(
        strategy=str(settings["strategy"]),
        clients=int(str(settings["clients"])),
        rounds=int(str(settings["rounds"])),
        config={},
        evaluation=load_npz(Path(str(settings["val"]))),
        output=Path(str(settings["output"])),
    )
    run_rounds(grid, spec, exchanged_names(spec), plan, RunLog())
