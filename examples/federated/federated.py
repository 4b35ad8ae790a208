"""Federated personalisation on Flower: ten simulated devices train one digit classifier.

    python examples/federated/federated.py                 # 10 clients, 20 rounds, 3 classes each
    python examples/federated/federated.py --strategy fedprox --mu 0.1     # the same with FedProx
    python examples/federated/federated.py --quick         # 4 clients, 2 rounds (what the tests run)

Each client holds the 8x8 digits (scikit-learn's) of three classes only, trains the shared MLP
for two local epochs per round with the spec's own settings, and sends back only the trained
tensors; FedAvg (or FedProx, whose proximal term mlspec puts in the training graph) combines
them. The same spec trained centrally for 20 epochs on all the data is
the yardstick. Every round's global spec is written to --out.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits

from mlspec import Model
from mlspec.builder import NetworkBuilder, SgdParams
from mlspec.federated import FederatedResult, federate
from mlspec.runtime import Trainer

Data = dict[str, np.ndarray]


@dataclass(frozen=True)
class Outcome:
    federated: FederatedResult
    centralised_accuracy: float
    centralised_seconds: float


def digits() -> tuple[Data, Data]:
    x, y = load_digits(return_X_y=True)
    order = np.random.default_rng(0).permutation(len(y))
    x, y = (x[order] / 16.0).astype(np.float32), y[order].astype(str)
    return {"x": x[:1400], "label": y[:1400]}, {"x": x[1400:], "label": y[1400:]}


def mlp() -> Model:
    """64 -> 32 relu -> 10 softmax; SGD lr 0.2 (allowed [0.001, 0.5]), momentum 0.5, batch 16;
    FedProx's proximal_mu 0 unless a run asks for more (allowed [0, 1])."""
    builder = NetworkBuilder(class_labels=[str(d) for d in range(10)], seed=0, name="federated-digits")
    builder.add_input("x", [64])
    builder.add_inner_product("hidden", "x", 32)
    builder.add_activation("relu", "hidden", "relu")
    builder.add_inner_product("out", "relu", 10)
    builder.add_softmax("probs", "out")
    builder.make_updatable(["hidden", "out"])
    builder.set_loss("categorical_cross_entropy", "probs")
    params = SgdParams(lr=0.2, batch=16, momentum=0.5)
    params.set_lr(0.2, (0.001, 0.5))
    params.set_batch(16, [8, 16, 32])
    builder.set_optimizer(params)
    builder.set_epochs(2, (1, 100))
    builder.set_seed(0)
    builder.set_proximal_mu(0.0, (0.0, 1.0))
    return builder.spec


def run(
    out: Path, *, clients: int, rounds: int, strategy: str = "fedavg", mu: float | None = None
) -> Outcome:
    spec, (train, test) = mlp(), digits()
    result = federate(
        spec,
        train,
        clients=clients,
        rounds=rounds,
        partition_scheme="by-label:3",
        output=out / "global.mlspec",
        evaluation=test,
        strategy=strategy,
        config={} if mu is None else {"proximal_mu": mu},
    )
    started = time.monotonic()
    with Trainer.from_spec(spec, epochs=rounds) as trainer:
        trainer.train(train)
        central = trainer.evaluate(test).accuracy
    assert central is not None
    return Outcome(result, central, time.monotonic() - started)


def main(argv: Sequence[str] | None = None) -> Outcome:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--out", type=Path, help="where the global spec goes (default: a new temporary folder)"
    )
    parser.add_argument("--quick", action="store_true", help="4 clients, 2 rounds")
    parser.add_argument("--strategy", default="fedavg", help="fedavg, fedprox or fedadam")
    parser.add_argument("--mu", type=float, help="FedProx's proximal strength (allowed [0, 1])")
    args = parser.parse_args(argv)
    out = args.out or Path(tempfile.mkdtemp(prefix="mlspec-federated-"))
    out.mkdir(parents=True, exist_ok=True)
    clients, rounds = (4, 2) if args.quick else (10, 20)
    outcome = run(out, clients=clients, rounds=rounds, strategy=args.strategy, mu=args.mu)
    named = args.strategy if args.mu is None else f"{args.strategy} (mu {args.mu:g})"
    print(f"{clients} clients with 3 classes each, {named}, 2 local epochs per round; test accuracy:")
    print(f"{'round':>5}  {'accuracy':>8}  {'seconds':>7}")
    for record in outcome.federated.rounds:
        print(f"{record.round:>5}  {record.accuracy or 0:>8.1%}  {record.seconds:>7.1f}")
    print(f"centralised, {rounds} epochs on all the data: {outcome.centralised_accuracy:.1%}")
    print(f"wrote {out / 'global.mlspec'}")
    return outcome


if __name__ == "__main__":
    main(sys.argv[1:])
