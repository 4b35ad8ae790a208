"""The federated simulation's per-round watchdog (issue 17's known weakness, done in issue 16):
under load Ray's raylet crashed and the run waited forever. A round that makes no progress within
the limit kills the child's process group and fails naming the round and the limit. Simulated
here without Ray: a child that finishes round 0 and then hangs, with a grandchild in its group."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from mlspec.federated import federate
from mlspec.federated.simulation import FederatedError, supervise
from tests.federated import stall_targets
from tests.federated.models import digits, mlp


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.skipif(not hasattr(os, "killpg"), reason="process groups are POSIX")
def test_a_stalled_round_kills_the_child_group_and_names_the_round_and_limit(tmp_path: Path) -> None:
    pid_file = tmp_path / "worker.pid"
    started = time.monotonic()
    with pytest.raises(FederatedError) as caught:
        supervise(stall_targets.stalls_after_round_0, (str(pid_file),), rounds=3, limit=40.0)
    assert str(caught.value) == (
        "round 1 of 3 made no progress in 40 s (--round-timeout); the simulation and its workers were stopped"
    )
    assert time.monotonic() - started < 150  # the child's start (imports) and 40 s; it waited forever
    worker = int(pid_file.read_text())
    deadline = time.monotonic() + 10
    while _alive(worker) and time.monotonic() < deadline:
        time.sleep(0.1)  # killed with its group; init reaps it
    assert not _alive(worker)


def test_rounds_that_each_finish_within_the_limit_are_not_stopped() -> None:
    records = supervise(
        stall_targets.finishes, (4,), rounds=4, limit=40.0
    )  # round 0 includes the child's start
    assert [record.round for record in records] == [0, 1, 2, 3, 4]


def test_a_round_timeout_of_zero_is_refused(tmp_path: Path) -> None:
    train, _ = digits()
    with pytest.raises(FederatedError, match=r"--round-timeout 0.0: give a number of seconds above 0"):
        federate(
            mlp(),
            train,
            clients=2,
            rounds=1,
            partition_scheme="iid",
            output=tmp_path / "g.mlspec",
            round_timeout=0.0,
        )
