"""Partitions: every example to exactly one client, the skew each scheme promises, clear refusals."""

from __future__ import annotations

import numpy as np
import pytest

from mlspec.federated import PartitionError, partition

LABELS = np.repeat(np.arange(10), 30).astype(str)


def _covers_once(parts: list[np.ndarray], count: int) -> None:
    joined = np.concatenate(parts)
    assert sorted(joined.tolist()) == list(range(count))


def test_iid_is_an_even_shuffled_split() -> None:
    parts = partition(LABELS, 7, "iid", seed=3)
    _covers_once(parts, len(LABELS))
    assert {len(p) for p in parts} <= {42, 43}
    assert [p.tolist() for p in parts] == [p.tolist() for p in partition(LABELS, 7, "iid", seed=3)]
    assert [p.tolist() for p in parts] != [p.tolist() for p in partition(LABELS, 7, "iid", seed=4)]


@pytest.mark.parametrize("per_client", [2, 3])
def test_by_label_gives_each_client_its_classes_and_every_class_an_owner(per_client: int) -> None:
    parts = partition(LABELS, 10, f"by-label:{per_client}")
    _covers_once(parts, len(LABELS))
    assert all(len(set(LABELS[p])) == per_client for p in parts)
    assert set(LABELS[np.concatenate(parts)]) == set(LABELS)


def test_dirichlet_skews_more_with_smaller_alpha() -> None:
    def skew(alpha: float) -> float:
        parts = partition(LABELS, 5, f"dirichlet:{alpha}", seed=1)
        _covers_once(parts, len(LABELS))
        shares = [
            np.bincount(np.unique(LABELS, return_inverse=True)[1][p], minlength=10) / len(p) for p in parts
        ]
        return float(np.mean([share.max() for share in shares]))

    assert skew(0.1) > skew(100.0) + 0.2


@pytest.mark.parametrize(
    ("clients", "scheme", "fragment"),
    [
        (3, "by-label:2", "leaves classes"),
        (5, "by-label:11", "only 10 classes"),
        (5, "shards", "use one of iid, by-label:K, dirichlet:ALPHA"),
        (5, "dirichlet:-1", "must be positive"),
        (0, "iid", "--clients 0"),
    ],
)
def test_impossible_partitions_are_refused(clients: int, scheme: str, fragment: str) -> None:
    with pytest.raises(PartitionError, match=fragment):
        partition(LABELS, clients, scheme)
