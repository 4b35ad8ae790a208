"""Which examples go into which mini-batch, epoch by epoch.

Each epoch's order is a pure function of (seed, epoch): a generator seeded with both, rather
than one generator advanced across epochs. A run resumed at epoch k therefore sees exactly the
order an uninterrupted run would, without having to store or replay any generator state.

Last partial batch: when the example count is not a multiple of the batch size, the remainder
is trained as one smaller batch. Core ML instead wraps around and fills the last batch with
examples from the start, so some examples count twice per epoch. Training the remainder as it
is means every example is seen exactly once per epoch and the epoch's mean loss is the exact
mean over its examples; because the losses are means over the batch, a smaller batch does not
take a larger step.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from mlspec.runtime.data import Selection


def epoch_order(count: int, *, epoch: int, seed: int, shuffle: bool) -> npt.NDArray[np.int64] | None:
    """The epoch's example order, or None for the natural order 0..count-1."""
    if not shuffle:
        return None
    generator = np.random.default_rng([seed & 0xFFFFFFFFFFFFFFFF, epoch])
    return generator.permutation(count).astype(np.int64)


def batches_per_epoch(count: int, batch_size: int) -> int:
    return -(-count // batch_size)


def epoch_batches(count: int, batch_size: int, order: npt.NDArray[np.int64] | None) -> Iterator[Selection]:
    """Selections for each mini-batch; plain slices when unshuffled, so arrays are not copied."""
    for start in range(0, count, batch_size):
        stop = min(start + batch_size, count)
        yield slice(start, stop) if order is None else order[start:stop]
