"""What one client does in a round, and how the server scores a global model: plain mlspec.

Kept free of Flower so that it is tested directly, and so that any federated engine could call
it. The tensors exchanged are those the spec trains (plus batch-norm running statistics when it
trains them), in one fixed order both sides derive from the spec; nothing else leaves a client.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from mlspec._proto import model_pb2
from mlspec.runtime import Trainer
from mlspec.runtime.results import write_back

Arrays = list[npt.NDArray[Any]]
Data = Mapping[str, npt.NDArray[Any]]
# Keys Flower's strategies put into the round's configuration themselves: dropped, or renamed to
# the spec's hyperparameter (FedProx sends its mu, which the spec's allowed values then judge).
_ENGINE_KEYS = frozenset({"server-round"})
_ENGINE_NAMES = {"proximal-mu": "proximal_mu"}


@dataclass(frozen=True)
class Update:
    arrays: Arrays
    examples: int
    train_loss: float


def exchanged_names(spec: model_pb2.Model) -> tuple[str, ...]:
    """The tensors a round exchanges, by "{layer}.{field}", in a stable order."""
    with Trainer.from_spec(spec) as trainer:
        return tuple(sorted(trainer.parameters()))


def with_weights(
    spec: model_pb2.Model, names: Sequence[str], arrays: Sequence[npt.NDArray[Any]]
) -> model_pb2.Model:
    return write_back(spec, dict(zip(names, arrays, strict=True)))


def overrides_from(config: Mapping[str, Any]) -> dict[str, Any]:
    """The server's hyperparameters for this round; the spec's allowed values still decide."""
    return {
        _ENGINE_NAMES.get(name, name): value for name, value in config.items() if name not in _ENGINE_KEYS
    }


def local_update(
    spec: model_pb2.Model,
    names: Sequence[str],
    arrays: Sequence[npt.NDArray[Any]],
    data: Data,
    config: Mapping[str, Any],
) -> Update:
    """Train the global weights on this client's data; a config outside the spec's allowed
    values raises HyperparameterError before anything trains. With FedProx's mu the proximal
    term pulls towards `arrays`, the weights training starts from (the trainer's own anchor)."""
    with Trainer.from_spec(with_weights(spec, names, arrays), **overrides_from(config)) as trainer:
        result = trainer.train(dict(data))
        trained = trainer.parameters()
    examples = len(next(iter(data.values())))
    return Update([trained[name] for name in names], examples, float(result.epoch_losses[-1]))


def evaluate_global(
    spec: model_pb2.Model, names: Sequence[str], arrays: Sequence[npt.NDArray[Any]], data: Data
) -> tuple[float, float | None]:
    """Mean loss and (for classifiers) accuracy of the global weights on `data`."""
    with Trainer.from_spec(with_weights(spec, names, arrays)) as trainer:
        result = trainer.evaluate(dict(data))
    return result.loss, result.accuracy


def as_float(arrays: Sequence[npt.NDArray[Any]]) -> Arrays:
    """Flower averages in float64; the spec stores float32."""
    return [np.asarray(a, dtype=np.float32) for a in arrays]
