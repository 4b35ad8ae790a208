"""PyTorch eager contestant of train_throughput.py, run in a Python that has torch (a side venv).

mlspec's venv never holds torch, so train_throughput.py starts this script with another
interpreter (--torch-python) and drives it over stdin/stdout, one line per command:
`new CASE OPTIMIZER` builds a fresh model, optimizer (adamw or sgd) and data for CASE and runs
one warm-up epoch, answering `ok THREADS`; `block` trains one timed block of epochs, answering
the number of steps. The networks, data (numpy's default_rng(0)) and hyperparameters are the
ones train_throughput.py gives the mlspec contestants. This file imports only numpy and torch, never mlspec.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import torch

LEARNING_RATE = 1e-3
WEIGHT_DECAY = 0.01  # AdamWParams' default, which the mlspec specs of the bench keep
MOMENTUM = 0.9  # train_throughput.py's SGD (no weight decay, no nesterov: SgdParams' defaults)
BATCHES_PER_EPOCH = 40
EPOCHS_PER_BLOCK = 5


def _network(case: str) -> tuple[Any, int, tuple[int, ...]]:
    nn = torch.nn
    if case in ("mlp128", "mlp512"):
        hidden = int(case[3:])
        return nn.Sequential(nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 10)), 64, (784,)
    if case == "cnn":
        network = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(8 * 14 * 14, 10),
        )
        return network, 32, (1, 28, 28)
    raise SystemExit(f"torch_worker: unknown case {case!r}; use mlp128, mlp512 or cnn")


class Contestant:
    def __init__(self, case: str, optimizer: str) -> None:
        torch.manual_seed(0)
        self.model, self.batch, shape = _network(case)
        self.model.train()
        parameters = self.model.parameters()
        self.optimizer: Any
        if optimizer == "sgd":
            self.optimizer = torch.optim.SGD(parameters, lr=LEARNING_RATE, momentum=MOMENTUM)
        elif optimizer == "adamw":
            self.optimizer = torch.optim.AdamW(parameters, lr=LEARNING_RATE, weight_decay=WEIGHT_DECAY)
        else:
            raise SystemExit(f"torch_worker: unknown optimizer {optimizer!r}; use adamw or sgd")
        count = self.batch * BATCHES_PER_EPOCH
        rng = np.random.default_rng(0)
        self.x = torch.from_numpy(rng.standard_normal((count, *shape), dtype=np.float32))
        self.y = torch.from_numpy(rng.integers(0, 10, count))

    def epochs(self, epochs: int) -> int:
        cross_entropy = torch.nn.functional.cross_entropy
        count = len(self.x)
        for _ in range(epochs):
            for begin in range(0, count, self.batch):
                self.optimizer.zero_grad(set_to_none=True)
                end = begin + self.batch
                loss = cross_entropy(self.model(self.x[begin:end]), self.y[begin:end])
                loss.backward()
                self.optimizer.step()
        return epochs * (count // self.batch)


def main() -> None:
    contestant: Contestant | None = None
    for line in sys.stdin:
        command, *rest = line.split()
        if command == "new":
            contestant = Contestant(rest[0], rest[1] if len(rest) > 1 else "adamw")
            contestant.epochs(1)
            print(f"ok {torch.get_num_threads()}", flush=True)
        elif command == "block" and contestant is not None:
            print(contestant.epochs(EPOCHS_PER_BLOCK), flush=True)
        else:
            raise SystemExit(f"torch_worker: unexpected command {line.strip()!r}")


if __name__ == "__main__":
    main()
