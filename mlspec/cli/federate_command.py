"""`mlspec federate`: federated training on Flower's simulation runtime, as many simulated devices.

Each client trains the spec on its own slice of the data with the spec's allowed settings; only
the trained tensors travel. The global spec is written after every round, atomically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from mlspec.cli.errors import echo_stdout, one_line_errors
from mlspec.cli.options import ModelArg, check_output_file
from mlspec.cli.typer_app import app
from mlspec.spec.errors import MlspecError


@app.command()
@one_line_errors
def federate(
    *,
    model: ModelArg,
    data: Annotated[Path, typer.Option("--data", help="Training data (.npz), split among the clients.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="The global spec, written every round.")],
    clients: Annotated[int, typer.Option("--clients", min=1, help="Simulated clients.")] = 10,
    rounds: Annotated[int, typer.Option("--rounds", min=1, help="Federated rounds.")] = 5,
    partition: Annotated[
        str, typer.Option("--partition", help="iid, by-label:K (K classes per client) or dirichlet:ALPHA.")
    ] = "iid",
    strategy: Annotated[str, typer.Option("--strategy", help="fedavg, fedprox or fedadam.")] = "fedavg",
    mu: Annotated[
        float | None,
        typer.Option("--mu", help="FedProx's proximal strength (default: the spec's proximal_mu)."),
    ] = None,
    val: Annotated[
        Path | None, typer.Option("--val", help="Held-out data the server scores each round on.")
    ] = None,
    epochs: Annotated[int | None, typer.Option("--epochs", help="Local epochs per round.")] = None,
    lr: Annotated[float | None, typer.Option("--lr", help="Clients' learning rate.")] = None,
    batch_size: Annotated[int | None, typer.Option("--batch-size", help="Clients' mini-batch size.")] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the partition.")] = 0,
    round_timeout: Annotated[
        float,
        typer.Option("--round-timeout", help="Seconds a round may take before the run is stopped."),
    ] = 600.0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the rounds as JSON.")] = False,
    plot: Annotated[
        Path | None, typer.Option("--plot", help="Write loss and accuracy per round to this SVG file.")
    ] = None,
) -> None:
    """Train one spec on many simulated clients with Flower; only trained tensors leave a client.

    Needs the optional extra: pip install 'mlspec[federated]' (Flower 1.42, Python 3.11 or later).

    Example: mlspec federate updatable.mlspec --data train.npz --clients 3 --rounds 2 -o global.mlspec
    """
    from mlspec.spec.io import load

    try:
        from mlspec.federated import federate as run
    except ImportError as exc:
        raise MlspecError(
            "federate needs Flower 1.42 (Python 3.11 or later); install mlspec[federated]"
        ) from exc
    from mlspec.runtime.data import load_npz

    inputs = (model, data) if val is None else (model, data, val)
    check_output_file(output, inputs=inputs)
    if plot is not None:
        check_output_file(plot, inputs=(*inputs, output), option="--plot")
    given = {"epochs": epochs, "learning_rate": lr, "mini_batch_size": batch_size, "proximal_mu": mu}
    config: dict[str, Any] = {name: value for name, value in given.items() if value is not None}
    result = run(
        load(model),
        load_npz(data),
        clients=clients,
        rounds=rounds,
        partition_scheme=partition,
        output=output,
        evaluation=load_npz(val) if val is not None else None,
        strategy=strategy,
        config=config,
        seed=seed,
        round_timeout=round_timeout,
    )
    scored_on = "validation data" if val is not None else "all training data"
    if plot is not None:
        from mlspec.federated.plot import write_plot

        write_plot(result.rounds, plot, f"{model.name}: {strategy}, {clients} clients ({scored_on})")
    if as_json:
        rows = [vars(record) for record in result.rounds]
        echo_stdout(json.dumps({"rounds": rows, "client_examples": result.client_examples}, indent=2))
        return
    echo_stdout(f"{'round':>5}  {'loss':>8}  {'accuracy':>8}  {'seconds':>7}   (scored on {scored_on})")
    for record in result.rounds:
        accuracy = "" if record.accuracy is None else f"{record.accuracy:.1%}"
        echo_stdout(f"{record.round:>5}  {record.loss:>8.4f}  {accuracy:>8}  {record.seconds:>7.1f}")
    echo_stdout(f"wrote {output}: {rounds} rounds over {clients} clients ({strategy}, {partition})")
    if plot is not None:
        echo_stdout(f"wrote {plot}: loss and accuracy per round")
