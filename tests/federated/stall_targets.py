"""Child-process bodies for test_watchdog: importable by a spawned child without loading the
federated test models (which took longer to import than the watchdog's limit under load)."""

from __future__ import annotations

import subprocess
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

from mlspec.federated.flower import RoundRecord


def stalls_after_round_0(pid_file: str, sender: Connection) -> None:
    """Starts a grandchild (as Ray starts its raylet), reports round 0, then hangs."""
    worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    Path(pid_file).write_text(str(worker.pid))
    sender.send(("round", RoundRecord(0, 1.0, None, 0.0)))
    time.sleep(600)


def finishes(rounds: int, sender: Connection) -> None:
    records = [RoundRecord(index, 1.0 / (index + 1), None, 0.1 * index) for index in range(rounds + 1)]
    for record in records:
        sender.send(("round", record))
        time.sleep(0.2)
    sender.send(("done", records))
