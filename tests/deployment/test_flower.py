"""Deployment mode: a real flower-superlink and three flower-supernode processes on 127.0.0.1.

Every part is a separate process started as docs/federated.md says (insecure, loopback, free
ports, each SuperNode with its own data file); `flwr run --stream` submits the app and waits for
its 3 rounds. The global spec they write must score like federated training does, and every
process, with everything it spawned, must be gone when the test ends.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from mlspec.federated.partition import partition, subsets
from mlspec.runtime import Trainer
from mlspec.spec.io import load, save
from tests.federated.models import digits, mlp

BIN = Path(sys.executable).parent
APP = Path(__file__).resolve().parents[2] / "examples" / "federated" / "flower_app"
CLIENTS, ROUNDS = 3, 3


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, seconds: float = 120) -> None:
    """Block until the SuperLink accepts connections on `port` (flwr run gives up at once)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.5)
    raise AssertionError(f"the SuperLink did not listen on port {port} within {seconds} s")


def _gone(group: int) -> bool:
    try:
        os.killpg(group, 0)
    except ProcessLookupError:
        return True
    return False


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Started processes, each leading its own process group; stopped and checked at the end."""
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for process in started:
        process.send_signal(signal.SIGINT)  # what Ctrl-C sends: Flower's servers stop cleanly
    codes = [process.wait(timeout=60) for process in started]
    deadline = time.monotonic() + 60  # SuperExec children notice their parent is gone
    while not all(_gone(p.pid) for p in started) and time.monotonic() < deadline:
        time.sleep(0.5)
    left = [p.pid for p in started if not _gone(p.pid)]
    for group in left:
        os.killpg(group, signal.SIGKILL)
    assert not left, f"processes left in groups {left}"
    assert codes == [0] * len(started), codes


def test_a_superlink_and_three_supernodes_train_three_rounds(
    tmp_path: Path, processes: list[subprocess.Popen[bytes]]
) -> None:
    train, test = digits()
    for index, part in enumerate(subsets(train, partition(train["label"], CLIENTS, "by-label:4"))):
        (tmp_path / f"client{index}").mkdir()
        np.savez(tmp_path / f"client{index}" / "data.npz", allow_pickle=False, **part)
    np.savez(tmp_path / "test.npz", allow_pickle=False, **test)
    save(mlp(), tmp_path / "digits.mlspec")
    port = _free_port()
    home = tmp_path / "flwr-home"
    home.mkdir()
    connection = f'[superlink.local]\naddress = "127.0.0.1:{port}"\ninsecure = true\n'
    (home / "config.toml").write_text(f'[superlink]\ndefault = "local"\n\n{connection}')
    env = {**os.environ, "FLWR_HOME": str(home), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}

    def start(name: str, *command: str) -> None:
        log = (tmp_path / f"{name}.log").open("wb")
        processes.append(
            subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        )

    start("superlink", str(BIN / "flower-superlink"), "--insecure",
          "--disable-runtime-dependency-installation", "--port", str(port))  # fmt: skip
    _wait_for_port(port)
    for index in range(CLIENTS):
        data = tmp_path / f"client{index}" / "data.npz"
        start(f"supernode{index}", str(BIN / "flower-supernode"), "--insecure", "--superlink",
              f"127.0.0.1:{port}", "--port", str(_free_port()),
              "--node-config", f'data="{data}"')  # fmt: skip
    settings = (
        f'spec="{tmp_path / "digits.mlspec"}" output="{tmp_path / "global.mlspec"}" '
        f'val="{tmp_path / "test.npz"}" rounds={ROUNDS} clients={CLIENTS}'
    )
    started = time.monotonic()
    done = subprocess.run(
        [str(BIN / "flwr"), "run", str(APP), "local", "--stream", "--run-config", settings],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    print(f"{ROUNDS} rounds over {CLIENTS} SuperNodes in {time.monotonic() - started:.1f} s")
    with Trainer.from_spec(load(tmp_path / "global.mlspec")) as trainer:
        accuracy = trainer.evaluate(test).accuracy
    print(f"accuracy of the global spec on {len(test['label'])} test digits: {accuracy:.3f}")
    assert accuracy is not None and accuracy > 0.7  # 3 rounds from 11% (the simulation reaches 81%)
