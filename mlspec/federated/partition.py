"""Splitting one labelled data set among simulated clients, the way federated data is skewed.

Real devices do not hold a random sample each: a phone's photos cover a few of the classes.
Three schemes, all seeded and reproducible:
- "iid": a shuffled, even split;
- "by-label:K" (K defaults to 2): every client holds the examples of K classes, classes dealt
  round-robin so that each class has an owner, and a class's examples shared among its owners;
- "dirichlet:ALPHA": per class, the share of each client drawn from Dirichlet(ALPHA); small
  ALPHA is very skewed, large ALPHA close to iid.
Every example goes to exactly one client, and no client is left empty.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from mlspec.spec.errors import MlspecError

Indices = npt.NDArray[np.int64]
SCHEMES = ("iid", "by-label:K", "dirichlet:ALPHA")


class PartitionError(MlspecError):
    """A partition scheme that cannot be applied to this data."""


def partition(labels: npt.NDArray[np.generic], clients: int, scheme: str, *, seed: int = 0) -> list[Indices]:
    """Example indices for each of `clients` clients under `scheme` (see the module docstring)."""
    if clients < 1 or clients > len(labels):
        raise PartitionError(f"--clients {clients}: need between 1 and {len(labels)} (the example count)")
    rng = np.random.default_rng(seed)
    name, _, argument = scheme.partition(":")
    if name == "iid" and not argument:
        parts = np.array_split(rng.permutation(len(labels)), clients)
    elif name == "by-label":
        parts = _by_label(labels, clients, _number(argument or "2", scheme, int), rng)
    elif name == "dirichlet":
        parts = _dirichlet(labels, clients, _number(argument, scheme, float), rng)
    else:
        raise PartitionError(f"--partition {scheme!r}: use one of {', '.join(SCHEMES)}")
    empty = [index for index, part in enumerate(parts) if len(part) == 0]
    if empty:
        raise PartitionError(
            f"--partition {scheme!r} leaves client(s) {', '.join(map(str, empty))} without examples; "
            "use fewer clients, more labels per client, or a larger alpha"
        )
    return [np.sort(part).astype(np.int64) for part in parts]


def _number(text: str, scheme: str, kind: type[int] | type[float]) -> float:
    try:
        value = kind(text)
    except ValueError:
        value = 0
    if value <= 0:
        raise PartitionError(f"--partition {scheme!r}: the number after ':' must be positive")
    return value


def _by_label(
    labels: npt.NDArray[np.generic], clients: int, per_client: float, rng: np.random.Generator
) -> list[Indices]:
    classes = np.unique(labels)
    count = int(per_client)
    if count > len(classes):
        raise PartitionError(f"by-label:{count}: the data has only {len(classes)} classes")
    owners: dict[int, list[int]] = {c: [] for c in range(len(classes))}
    for client in range(clients):
        for slot in range(count):
            owners[(client * count + slot) % len(classes)].append(client)
    unowned = [str(classes[c]) for c, holders in owners.items() if not holders]
    if unowned:
        raise PartitionError(
            f"by-label:{count} with {clients} clients leaves classes {', '.join(unowned)} to nobody; "
            f"use at least {-(-len(classes) // count)} clients"
        )
    parts: list[list[Indices]] = [[] for _ in range(clients)]
    for c, holders in owners.items():
        members = rng.permutation(np.flatnonzero(labels == classes[c]))
        for holder, share in zip(holders, np.array_split(members, len(holders)), strict=True):
            parts[holder].append(share)
    return [np.concatenate(part) if part else np.zeros(0, np.int64) for part in parts]


def _dirichlet(
    labels: npt.NDArray[np.generic], clients: int, alpha: float, rng: np.random.Generator
) -> list[Indices]:
    parts: list[list[Indices]] = [[] for _ in range(clients)]
    for value in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == value))
        shares = rng.dirichlet(np.full(clients, alpha))
        cuts = (np.cumsum(shares)[:-1] * len(members)).astype(int)
        for client, piece in enumerate(np.split(members, cuts)):
            parts[client].append(piece)
    return [np.concatenate(part) for part in parts]


def subsets(
    data: dict[str, npt.NDArray[np.generic]], parts: Sequence[Indices]
) -> list[dict[str, npt.NDArray[np.generic]]]:
    """The arrays of each client: every array indexed by that client's examples."""
    return [{name: values[part] for name, values in data.items()} for part in parts]
