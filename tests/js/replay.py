"""The JavaScript loop's batches replayed in Python, to check its results against PortableSession.

`js_epoch_order` is written from the specification in js/src/order.mjs (mulberry32 seeded with
seed and epoch, Fisher-Yates from the back), in Python integers, independently of the JS code.
`python_run` then feeds the same batches, with the same learning-rate schedule, to the Python
portable runtime, so equal parameters mean the JS loop drove the step model exactly as the Python
runtime would.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from mlspec.backends.portable.session import PortableSession
from mlspec.runtime.schedules import schedule_from_dict

_MASK = 0xFFFFFFFF
_GOLDEN = 0x9E3779B9


def _imul(a: int, b: int) -> int:
    return (a * b) & _MASK


def _mulberry32(seed: int, epoch: int) -> Any:
    state = ((seed & _MASK) ^ _imul(epoch + 1, _GOLDEN)) & _MASK

    def draw() -> int:
        nonlocal state
        state = (state + 0x6D2B79F5) & _MASK
        t = state
        t = _imul(t ^ (t >> 15), t | 1)
        t ^= (t + _imul(t ^ (t >> 7), t | 61)) & _MASK
        return (t ^ (t >> 14)) & _MASK

    return draw


def js_epoch_order(count: int, epoch: int, seed: int) -> npt.NDArray[np.int64]:
    order = list(range(count))
    draw = _mulberry32(seed, epoch)
    for i in range(count - 1, 0, -1):
        j = (draw() * (i + 1)) >> 32
        order[i], order[j] = order[j], order[i]
    return np.array(order, dtype=np.int64)


def python_run(
    artifacts: Path,
    columns: Mapping[str, npt.NDArray[Any]],
    settings: Mapping[str, Any],
    timing: dict[str, float] | None = None,
) -> dict[str, npt.NDArray[np.float32]]:
    """Train `artifacts` with PortableSession on the JS loop's batches; the final parameters.

    `timing`, when given, receives the steps and the seconds the steps took (batching included,
    session creation not), for the steps-per-second comparison with a JS run.

    `settings` holds the run's resolved hyperparameters (learning_rate, mini_batch_size, epochs,
    shuffle, seed and any optimizer value); `columns` the examples as the step model takes them.
    """
    session = PortableSession(artifacts, hyperparameters=dict(settings))
    schedule = schedule_from_dict(session.manifest.lr_schedule)
    count = len(next(iter(columns.values())))
    batch, epochs, seed = int(settings["mini_batch_size"]), int(settings["epochs"]), int(settings["seed"])
    step = 0
    started = time.perf_counter()
    for epoch in range(epochs):
        order = js_epoch_order(count, epoch, seed) if settings["shuffle"] else np.arange(count)
        for start in range(0, count, batch):
            rows = order[start : start + batch]
            rate = schedule.rate(float(settings["learning_rate"]), epoch=epoch, step=step, epochs=epochs)
            session.learning_rate = rate
            session.train_step({name: values[rows] for name, values in columns.items()})
            step += 1
    if timing is not None:
        timing.update(steps=step, seconds=time.perf_counter() - started)
    return session.parameters()
