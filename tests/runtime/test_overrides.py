"""Every override kind: values inside the constraint take effect, values outside are refused first.

"Refused first" is observable: the work directory `from_spec` would convert into is never
created, because overrides are checked before conversion starts. Effects of the optimizer
settings are checked exactly in test_optimizers.py; here each is shown to change the result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlspec._proto import model_pb2
from mlspec.builder import SgdParams
from mlspec.runtime import HyperparameterError, Trainer, TrainingEvent
from tests.runtime.models import blobs, classifier, pinned_adam, regressor

DATA = blobs(20)


def _refused(spec: model_pb2.Model, tmp_path: Path, message: str, **overrides: Any) -> None:
    work = tmp_path / "work"
    with pytest.raises(HyperparameterError) as caught:
        Trainer.from_spec(spec, work_dir=work, **overrides)
    assert message in str(caught.value)
    assert not work.exists()


def _events(trainer: Trainer, kind: str) -> list[TrainingEvent]:
    events: list[TrainingEvent] = []
    trainer.train(DATA, callbacks=[events.append])
    return [event for event in events if event.kind == kind]


def _weights(**overrides: Any) -> np.ndarray:
    trainer = Trainer.from_spec(classifier(hidden=0), **overrides)
    trainer.train(DATA)
    return trainer.parameters()["fc.weights"]


def test_mini_batch_size_sets_the_batch_count(tmp_path: Path) -> None:
    batches = _events(Trainer.from_spec(classifier(), mini_batch_size=8, epochs=1), "mini_batch_end")
    assert [event.batch_size for event in batches] == [8, 8, 4]
    alias = _events(Trainer.from_spec(classifier(), batch_size=16, epochs=1), "mini_batch_end")
    assert [event.batch_size for event in alias] == [16, 4]
    _refused(
        classifier(),
        tmp_path,
        "mini_batch_size=3 is not in the allowed set {1, 2, 4, 8, 16}",
        mini_batch_size=3,
    )


def test_epochs_sets_the_number_of_epochs(tmp_path: Path) -> None:
    epochs = _events(Trainer.from_spec(classifier(), epochs=3), "epoch_end")
    assert [event.epoch for event in epochs] == [0, 1, 2]
    _refused(classifier(), tmp_path, "epochs=7 is outside the allowed range [1, 6]", epochs=7)
    _refused(classifier(), tmp_path, "epochs must be a whole number, got 2.5", epochs=2.5)


def test_learning_rate_is_used_and_reported(tmp_path: Path) -> None:
    batches = _events(Trainer.from_spec(classifier(), learning_rate=0.25), "mini_batch_end")
    assert {event.learning_rate for event in batches} == {0.25}
    assert not np.array_equal(_weights(lr=0.25), _weights())
    _refused(classifier(), tmp_path, "learning_rate=1.5 is outside the allowed range [0.0, 1.0]", lr=1.5)
    _refused(classifier(), tmp_path, "learning_rate must be finite, got nan", learning_rate=float("nan"))


def test_shuffle_and_seed_change_the_order(tmp_path: Path) -> None:
    shuffled = _weights(seed=1)
    assert not np.array_equal(shuffled, _weights(seed=2))
    assert not np.array_equal(shuffled, _weights(seed=1, shuffle=False))
    assert np.array_equal(_weights(seed=1, shuffle=False), _weights(seed=2, shuffle=False))
    _refused(classifier(), tmp_path, "seed=-1 is outside the allowed range [0, 4294967295]", seed=-1)
    _refused(classifier(), tmp_path, "shuffle must be true or false, got 'no'", shuffle="no")


@pytest.mark.parametrize(
    ("name", "inside", "outside", "message"),
    [
        ("momentum", 0.9, 1.5, "momentum=1.5 is outside the allowed range [0.0, 1.0]"),
        ("weight_decay", 0.3, -0.1, "weight_decay=-0.1 is outside the allowed range [0.0, 1.0]"),
        ("nesterov", True, 1, "nesterov must be true or false, got 1"),
    ],
)
def test_sgd_settings_change_training(
    name: str, inside: Any, outside: Any, message: str, tmp_path: Path
) -> None:
    assert not np.array_equal(_weights(**{name: inside}), _weights())
    _refused(classifier(), tmp_path, message, **{name: outside})


@pytest.mark.parametrize(
    ("name", "inside", "outside", "message"),
    [
        ("beta1", 0.5, 0.995, "beta1=0.995 is outside the allowed range [0.5, 0.99]"),
        ("beta2", 0.9, 1.0, "beta2=1.0 is outside the allowed range [0.9, 0.9999]"),
        ("eps", 0.1, -1e-8, "eps=-1e-08 is outside the allowed range [1e-10, 0.5]"),
        ("weight_decay", 0.5, 3.0, "weight_decay=3.0 is outside the allowed range [0.0, 1.0]"),
    ],
)
def test_adam_settings_change_training(
    name: str, inside: Any, outside: Any, message: str, tmp_path: Path
) -> None:
    spec = classifier(pinned_adam())
    baseline = Trainer.from_spec(spec)
    baseline.train(DATA)
    changed = Trainer.from_spec(spec, **{name: inside})
    changed.train(DATA)
    assert not np.array_equal(changed.parameters()["fc.weights"], baseline.parameters()["fc.weights"])
    _refused(spec, tmp_path, message, **{name: outside})


@pytest.mark.parametrize("kind", ["norm", "value"])
def test_clipping_limits_are_checked(kind: str, tmp_path: Path) -> None:
    params = SgdParams(lr=0.1, batch=4)
    spec = regressor(params, clip_norm=0.5) if kind == "norm" else regressor(params, clip_value=0.5)
    name, other = (f"clip_{kind}", "clip_value" if kind == "norm" else "clip_norm")
    inside: dict[str, Any] = {name: 2.0}
    assert getattr(Trainer.from_spec(spec, **inside).hyperparameters, name) == 2.0
    _refused(spec, tmp_path, f"{name}=20.0 is outside the allowed range [0.001, 10.0]", **{name: 20.0})
    _refused(
        spec, tmp_path, f"{other} does not apply: the spec declares no gradient clipping by", **{other: 1.0}
    )


def test_unknown_and_inapplicable_names_list_the_valid_ones(tmp_path: Path) -> None:
    valid = (
        "valid names: learning_rate, mini_batch_size, momentum, nesterov, weight_decay, epochs, shuffle, seed"
    )
    _refused(classifier(), tmp_path, f"unknown hyperparameter 'lrate'; {valid}", lrate=0.1)
    _refused(
        classifier(), tmp_path, f"beta1 does not apply to this model's sgd optimizer; {valid}", beta1=0.9
    )
    adam = classifier(pinned_adam())
    _refused(adam, tmp_path, "momentum does not apply to this model's adam optimizer", momentum=0.9)


def test_every_problem_is_reported_at_once(tmp_path: Path) -> None:
    work = tmp_path / "work"
    with pytest.raises(HyperparameterError) as caught:
        Trainer.from_spec(classifier(), work_dir=work, mini_batch_size=3, epochs=0, momentum=2.0)
    text = str(caught.value)
    assert "mini_batch_size=3" in text and "epochs=0" in text and "momentum=2.0" in text


def test_artifacts_trainer_checks_overrides_against_the_manifest(tmp_path: Path) -> None:
    trainer = Trainer.from_spec(classifier(), work_dir=tmp_path / "artifacts")
    again = Trainer.from_artifacts(tmp_path / "artifacts", mini_batch_size=8)
    assert again.hyperparameters.mini_batch_size == 8
    with pytest.raises(
        HyperparameterError, match=r"mini_batch_size=3 is not in the allowed set \{1, 2, 4, 8, 16\}"
    ):
        Trainer.from_artifacts(trainer.artifact_dir, mini_batch_size=3)
