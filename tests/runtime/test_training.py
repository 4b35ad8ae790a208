"""Training behaviour: reproducibility, order, metrics, learning-rate control, stop and cancel."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest

from mlspec.builder import NetworkBuilder
from mlspec.runtime import DataError, HyperparameterError, Trainer, TrainingEvent
from mlspec.runtime.batching import epoch_order
from mlspec.spec.graph import find_layer
from mlspec.spec.weights import to_numpy
from tests.runtime.models import LABELS, blobs, classifier

X, Y = blobs(10)


class Recording:
    """A batch provider over (X, Y) that records which example indices were read, in order."""

    def __init__(self) -> None:
        self.asked: list[int] = []

    def __len__(self) -> int:
        return len(X)

    def example(self, index: int) -> Mapping[str, npt.ArrayLike]:
        self.asked.append(index)
        return {"x": X[index], "label": Y[index]}


def _train(**overrides: Any) -> dict[str, npt.NDArray[np.float32]]:
    trainer = Trainer.from_spec(classifier(hidden=4), **overrides)
    trainer.train((X, Y))
    return trainer.parameters()


def _collect(
    trainer: Trainer, data: object = (X, Y), *, validation: object | None = None
) -> list[TrainingEvent]:
    events: list[TrainingEvent] = []
    trainer.train(data, callbacks=[events.append], validation=validation)
    return events


def test_same_seed_gives_bitwise_identical_weights_and_another_seed_does_not() -> None:
    first, second, other = _train(seed=5), _train(seed=5), _train(seed=6)
    for name in first:
        assert np.array_equal(first[name], second[name]), name
    assert any(not np.array_equal(first[name], other[name]) for name in first)


def test_seed_also_drives_dropout_masks() -> None:
    builder = NetworkBuilder.edit(classifier(hidden=8))
    builder.insert_after("relu", "dropout", "drop", rate=0.5)
    spec = builder.spec

    def weights(seed: int) -> npt.NDArray[np.float32]:
        trainer = Trainer.from_spec(spec, shuffle=False, seed=seed)
        trainer.train((X, Y))
        return trainer.parameters()["fc.weights"]

    assert np.array_equal(weights(3), weights(3))
    assert not np.array_equal(weights(3), weights(4))  # same order: only the masks differ


def test_shuffle_off_keeps_the_given_order_and_shuffle_follows_the_seed() -> None:
    provider = Recording()
    trainer = Trainer.from_spec(classifier(), shuffle=False, epochs=2, mini_batch_size=4)
    provider.asked.clear()
    trainer.train(provider)
    assert provider.asked[1:] == list(range(10)) * 2  # [0] is the up-front check of example 0
    shuffled = Recording()
    Trainer.from_spec(classifier(), seed=9, epochs=2).train(shuffled)
    orders = [epoch_order(10, epoch=e, seed=9, shuffle=True) for e in (0, 1)]
    assert shuffled.asked[1:] == [int(i) for order in orders if order is not None for i in order]


def test_epoch_loss_is_the_example_weighted_mean_of_batch_losses() -> None:
    events = _collect(Trainer.from_spec(classifier(), mini_batch_size=4, epochs=2, shuffle=False))
    for epoch in (0, 1):
        batches = [e for e in events if e.kind == "mini_batch_end" and e.epoch == epoch]
        assert [e.batch_size for e in batches] == [4, 4, 2]  # the remainder is a smaller batch
        weighted = sum((e.batch_loss or 0) * (e.batch_size or 0) for e in batches) / 10
        (end,) = [e for e in events if e.kind == "epoch_end" and e.epoch == epoch]
        assert end.epoch_loss == pytest.approx(weighted, rel=1e-12)
        assert end.epoch_loss != pytest.approx(batches[-1].batch_loss)


def test_first_batch_loss_is_the_cross_entropy_of_the_initial_weights() -> None:
    spec = classifier()
    events = _collect(Trainer.from_spec(spec, shuffle=False, mini_batch_size=4))
    layer = find_layer(spec, "fc").inner_product
    weights, bias = (to_numpy(t).astype(np.float64) for t in (layer.weights, layer.bias))
    logits = X[:4].astype(np.float64) @ weights.T + bias
    log_probs = logits - np.log(np.exp(logits).sum(axis=1, keepdims=True))
    targets = [LABELS.index(label) for label in Y[:4]]
    expected = -np.mean(log_probs[np.arange(4), targets])
    first = next(e for e in events if e.kind == "mini_batch_end")
    assert first.batch_loss == pytest.approx(expected, rel=1e-5)


def test_event_sequence_and_validation_metrics() -> None:
    trainer = Trainer.from_spec(classifier(), epochs=2)
    events = _collect(trainer, validation=(X, Y))
    kinds = [e.kind for e in events]
    assert kinds[0] == "training_begin" and kinds[-1] == "training_end"
    assert kinds.count("epoch_end") == 2 and kinds.count("mini_batch_end") == 6
    assert events[0].batches_per_epoch == kinds.count("mini_batch_end") // 2
    last = [e for e in events if e.kind == "epoch_end"][-1]
    evaluation = trainer.evaluate((X, Y))
    assert last.validation_loss == pytest.approx(evaluation.loss, rel=1e-6)
    probabilities = trainer.predict(X)["probs"]
    accuracy = np.mean(np.array(LABELS)[np.argmax(probabilities, axis=1)] == Y)
    assert last.validation_accuracy == pytest.approx(accuracy)
    assert evaluation.accuracy == pytest.approx(accuracy)
    targets = [LABELS.index(label) for label in Y]
    assert evaluation.loss == pytest.approx(-np.mean(np.log(probabilities[np.arange(10), targets])), rel=1e-4)


def test_callback_changes_the_learning_rate_and_bad_rates_are_refused() -> None:
    def anneal(event: TrainingEvent) -> None:
        if event.kind == "epoch_end":
            event.context.set_learning_rate(event.learning_rate / 2)

    trainer = Trainer.from_spec(classifier(), learning_rate=0.2, epochs=3)
    events: list[TrainingEvent] = []
    trainer.train((X, Y), callbacks=[anneal, events.append])
    rates = {e.epoch: e.learning_rate for e in events if e.kind == "mini_batch_end"}
    assert rates == {0: 0.2, 1: 0.1, 2: 0.05}

    def too_high(event: TrainingEvent) -> None:
        event.context.set_learning_rate(5.0)

    with pytest.raises(
        HyperparameterError, match=r"learning_rate=5\.0 is outside the allowed range \[0\.0, 1\.0\]"
    ):
        Trainer.from_spec(classifier()).train((X, Y), callbacks=[too_high])


def _scheduled(kind: str) -> list[TrainingEvent]:
    builder = NetworkBuilder.edit(classifier(epochs=4))
    if kind == "step":
        builder.set_step_schedule(2, 0.5)
    elif kind == "cosine":
        builder.set_cosine_schedule(0.01)
    else:
        builder.set_warmup_schedule(4, 0.25)
    return [e for e in _collect(Trainer.from_spec(builder.spec)) if e.kind == "mini_batch_end"]


def test_declared_schedules_are_applied() -> None:
    step = {e.epoch: e.learning_rate for e in _scheduled("step")}
    assert step == pytest.approx({0: 0.1, 1: 0.1, 2: 0.05, 3: 0.05})
    cosine = {e.epoch: e.learning_rate for e in _scheduled("cosine")}
    assert cosine == pytest.approx({e: 0.01 + 0.09 * (1 + np.cos(np.pi * e / 4)) / 2 for e in range(4)})
    warmup = [e.learning_rate for e in _scheduled("warmup")]
    assert warmup[:6] == pytest.approx([0.025, 0.04375, 0.0625, 0.08125, 0.1, 0.1])


def test_stop_from_a_callback_keeps_completed_steps() -> None:
    def stop_after_two(event: TrainingEvent) -> None:
        if event.kind == "mini_batch_end" and event.step == 2:
            event.context.stop()

    trainer = Trainer.from_spec(classifier(), shuffle=False, epochs=3)
    result = trainer.train((X, Y), callbacks=[stop_after_two])
    assert (result.status, result.steps, result.epochs_completed) == ("stopped", 2, 0)


def test_cancel_from_another_thread_keeps_completed_steps() -> None:
    x, y = blobs(40, seed=3)
    trainer = Trainer.from_spec(classifier(), shuffle=False, mini_batch_size=4, epochs=2)
    reached, cancelled = threading.Event(), threading.Event()

    def canceller() -> None:
        reached.wait(10)
        trainer.cancel()
        cancelled.set()

    def pause_at_three(event: TrainingEvent) -> None:
        if event.kind == "mini_batch_end" and event.step == 3:
            reached.set()
            assert cancelled.wait(10)

    thread = threading.Thread(target=canceller)
    thread.start()
    result = trainer.train((x, y), callbacks=[pause_at_three])
    thread.join()
    assert result.cancelled and result.steps == 3
    reference = Trainer.from_spec(classifier(), shuffle=False, mini_batch_size=4, epochs=1)
    reference.train((x[:12], y[:12]))  # exactly the three completed steps
    for name, value in reference.parameters().items():
        assert np.array_equal(trainer.parameters()[name], value), name
    kept = find_layer(trainer.updated_model(), "fc").inner_product.weights
    assert np.array_equal(to_numpy(kept), reference.parameters()["fc.weights"])


def test_bad_training_data_is_refused_before_any_step() -> None:
    trainer = Trainer.from_spec(classifier())
    before = trainer.parameters()
    events: list[TrainingEvent] = []
    bad_labels = np.array([*Y[:-1], "whale"])
    with pytest.raises(DataError, match=r"'label'\[9\] = 'whale' is not a class label"):
        trainer.train((X, bad_labels), callbacks=[events.append])
    with pytest.raises(DataError, match=r"validation data: missing 'label'"):
        trainer.train((X, Y), validation={"x": X}, callbacks=[events.append])
    assert events == []
    for name, value in before.items():
        assert np.array_equal(trainer.parameters()[name], value)


def test_a_cancel_before_train_ends_that_call_only() -> None:
    trainer = Trainer.from_spec(classifier())
    before = trainer.parameters()["fc.weights"]
    trainer.cancel()
    first = trainer.train((X, Y))
    assert first.cancelled and first.steps == 0
    assert np.array_equal(trainer.parameters()["fc.weights"], before)
    second = trainer.train((X, Y))
    assert second.status == "completed" and second.steps == 6


def test_accuracy_is_reported_for_a_loss_on_logits() -> None:
    builder = NetworkBuilder.edit(classifier())
    builder.set_loss("categorical_cross_entropy", "fc", from_logits=True)
    trainer = Trainer.from_spec(builder.spec)
    trainer.train((X, Y))
    evaluation = trainer.evaluate((X, Y))
    probabilities = trainer.predict(X)["probs"]
    expected = np.mean(np.array(LABELS)[np.argmax(probabilities, axis=1)] == Y)
    assert evaluation.accuracy == pytest.approx(expected)
    targets = [LABELS.index(label) for label in Y]
    assert evaluation.loss == pytest.approx(-np.mean(np.log(probabilities[np.arange(10), targets])), rel=1e-4)
