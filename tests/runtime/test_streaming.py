"""A batch provider four times bigger than a memory limit trains within the bound data.py states.

The bound: besides the model, the data path holds at most three copies of max(batch size, 256)
examples (the examples, their stacked batch, and the feed handed to ORT). tracemalloc sees every
numpy and Python allocation on the data path (ORT's own arena is the model's, outside the bound).
"""

from __future__ import annotations

import tracemalloc

import numpy as np
import numpy.typing as npt

from mlspec._proto.model_pb2 import Model
from mlspec.builder import NetworkBuilder, SgdParams
from mlspec.runtime import Trainer
from mlspec.runtime.evaluation import EVAL_BATCH

WIDTH = 4096  # float32 features: 16 KiB per example
EXAMPLES = 5_120  # 80 MiB of features in all
LIMIT = 20 * 2**20  # the memory limit this test sets: the data is 4x larger
BATCH = 32


class Generated:
    """Examples computed from their index on demand, so the dataset never exists in memory at once."""

    def __len__(self) -> int:
        return EXAMPLES

    def __getitem__(self, index: int) -> dict[str, npt.ArrayLike]:
        rng = np.random.default_rng(index)
        label = index % 3
        x = rng.normal(0.0, 1.0, WIDTH).astype(np.float32)
        x[label] += 3.0
        return {"x": x, "label": np.int64(label)}


def _spec() -> Model:
    builder = NetworkBuilder(class_labels=[0, 1, 2], seed=0)
    builder.add_input("x", [WIDTH])
    builder.add_inner_product("fc", "x", 3)
    builder.add_softmax("probs", "fc")
    builder.make_updatable(["fc"])
    builder.set_loss("categorical_cross_entropy", "probs")
    builder.set_optimizer(SgdParams(lr=0.05, batch=BATCH))
    builder.set_epochs(1)
    return builder.spec


def test_training_and_validation_from_a_provider_4x_the_limit_stay_under_the_stated_bound() -> None:
    data = Generated()
    data_bytes = EXAMPLES * WIDTH * 4
    assert data_bytes >= 4 * LIMIT
    stated_bound = 3 * max(BATCH, EVAL_BATCH) * WIDTH * 4  # examples, stacked batch, ORT feed
    with Trainer.from_spec(_spec()) as trainer:
        tracemalloc.start()
        try:
            result = trainer.train(data, validation=data)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    assert result.epochs_completed == 1
    assert result.validation_accuracies[0] > 0.9  # it really learned from the stream
    slack = 1 * 2**20  # interpreter bookkeeping: frames, the per-epoch permutation (160 KiB)
    assert peak < stated_bound + slack < LIMIT, (peak, stated_bound)
