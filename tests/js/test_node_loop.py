"""Issue 13's Node.js check: js/ trains portable artifacts with onnxruntime-node from the
manifest alone, and ends with the parameters the Python portable runtime reaches on the same
batches (to 1e-5), for each optimizer and schedule kind; a run stopped and resumed from its
checkpoint file ends the same; overrides are refused with the Python runtime's words.

Collected only when $MLSPEC_JS is set (tools/ci/node.sh installs the npm packages and sets it).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlspec.backends import to_training_artifacts
from mlspec.backends.portable.state import read_state
from mlspec.convert.manifest import Manifest
from mlspec.runtime.hyperparams import HyperparameterError, table_from_manifest
from tests.backends.portable.test_portable_session import mlp
from tests.js.node_runner import TRAIN_NODE, events, node, settings_options, train_node, write_data
from tests.js.replay import js_epoch_order, python_run
from tests.support.specs import SpecMaker

EXAMPLES = 53  # not a multiple of any batch size below: the last batch of each epoch is smaller


def _cosine(m: SpecMaker) -> None:
    m.adam(0.02)
    m.clip(norm=0.5)
    m.model.update_parameters.lr_schedule.cosine.min_lr = 0.001


def _step(m: SpecMaker) -> None:
    m.sgd(0.1, momentum=0.9, nesterov=True, weight_decay=0.01)
    schedule = m.model.update_parameters.lr_schedule.step
    schedule.step_epochs, schedule.gamma = 3, 0.5


def _warmup(m: SpecMaker) -> None:
    m.adam(0.01, decoupled=True, weight_decay=0.05)
    m.clip(value=0.05)
    warmup = m.model.update_parameters.lr_schedule.linear_warmup
    warmup.warmup_steps, warmup.start_factor = 40, 0.1


CASES = {
    "adam, cosine, clip norm": _cosine,
    "sgd nesterov, step": _step,
    "adamw, warmup, clip value": _warmup,
}
SETTINGS = {"epochs": 10, "mini_batch_size": 5, "seed": 1234567, "shuffle": True}  # 110 steps


def _data() -> dict[str, Any]:
    rng = np.random.default_rng(7)
    x = rng.normal(size=(EXAMPLES, 6)).astype(np.float32)
    return {"x": x, "y": (x[:, 0] + x[:, 1] > 0).astype(np.int64) + (x[:, 2] > 1).astype(np.int64)}


def _settings(artifacts: Path) -> dict[str, Any]:
    manifest = Manifest.load(artifacts)
    return {**{k: v.default for k, v in manifest.hyperparameters.items()}, **SETTINGS}


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("node")
    made = {}
    for index, (name, configure) in enumerate(CASES.items()):
        made[name] = root / f"case{index}"
        to_training_artifacts(mlp(configure), made[name], backend="portable")
    return made


def test_the_js_order_is_the_documented_generator(tmp_path: Path) -> None:
    script = (
        "import { epochOrder } from './js/src/order.mjs';"
        "console.log(JSON.stringify([0, 1, 7].map((epoch) => Array.from("
        "epochOrder(1000, { epoch, seed: 2 ** 40 + 99, shuffle: true })))));"
    )
    done = subprocess.run(
        [node(), "--input-type=module", "-e", script],
        capture_output=True,
        text=True,
        check=True,
        cwd=TRAIN_NODE.parents[2],
    )
    orders = np.array(json.loads(done.stdout))
    expected = [js_epoch_order(1000, epoch, (2**40 + 99)) for epoch in (0, 1, 7)]
    np.testing.assert_array_equal(orders, expected)
    assert sorted(orders[0].tolist()) == list(range(1000))
    assert not np.array_equal(orders[0], orders[1])  # each epoch has its own order


@pytest.mark.parametrize("case", list(CASES))
def test_node_training_equals_the_python_runtime(
    converted: dict[str, Path], case: str, tmp_path: Path
) -> None:
    artifacts = converted[case]
    data = _data()
    settings = _settings(artifacts)
    done = train_node(
        artifacts, write_data(tmp_path / "d.json", data), tmp_path / "end.ckpt", *settings_options(SETTINGS)
    )
    summary = events(done)[-1]
    assert summary["status"] == "completed" and summary["steps"] == 10 * 11
    tensors, meta = read_state(tmp_path / "end.ckpt")
    assert meta["step"] == 110
    expected = python_run(artifacts, data, settings)
    for name, value in expected.items():
        np.testing.assert_allclose(tensors[name], value, rtol=1e-5, atol=1e-6, err_msg=name)
    initial, _ = read_state(artifacts / "state.ckpt")
    assert max(float(np.abs(tensors[n] - initial[n]).max()) for n in expected) > 1e-2  # it trained
    losses = [e["loss"] for e in events(done) if e["event"] == "epoch"]
    assert losses[-1] < losses[0]


def test_a_run_resumed_from_its_checkpoint_ends_where_an_uninterrupted_one_does(
    converted: dict[str, Path], tmp_path: Path
) -> None:
    artifacts = converted["adam, cosine, clip norm"]
    data = write_data(tmp_path / "d.json", _data())
    options = [*settings_options(SETTINGS), "--checkpoint", str(tmp_path / "run.ckpt")]
    whole = train_node(artifacts, data, tmp_path / "whole.ckpt", *settings_options(SETTINGS))
    assert events(whole)[-1]["steps"] == 110
    first = train_node(artifacts, data, tmp_path / "first.ckpt", *options, "--stop-after-steps", "37")
    assert events(first)[-1] == {**events(first)[-1], "status": "stopped", "steps": 37}
    rest = train_node(artifacts, data, tmp_path / "rest.ckpt", *options, "--resume")
    assert events(rest)[-1]["steps"] == 110 - 37
    resumed, meta = read_state(tmp_path / "rest.ckpt")
    uninterrupted, _ = read_state(tmp_path / "whole.ckpt")
    assert meta["step"] == 110
    for name, value in uninterrupted.items():
        np.testing.assert_allclose(resumed[name], value, rtol=1e-6, atol=1e-7, err_msg=name)


@pytest.mark.parametrize(
    "overrides",
    [
        {"learning_rate": 12.5},
        {"mini_batch_size": 0},
        {"mini_batch_size": 2.5},
        {"shuffle": 1},
        {"momentum": 0.5},
        {"lr": 0.001, "eps": 2.0, "beta1": 1.5},
        {"nonsense": 3},
    ],
)
def test_overrides_are_refused_in_the_python_runtimes_words(
    converted: dict[str, Path], tmp_path: Path, overrides: dict[str, Any]
) -> None:
    artifacts = converted["adam, cosine, clip norm"]
    with pytest.raises(HyperparameterError) as refused:
        table_from_manifest(Manifest.load(artifacts)).resolve(overrides)
    data = write_data(tmp_path / "d.json", _data())
    done = train_node(artifacts, data, tmp_path / "x.ckpt", *settings_options(overrides), check=False)
    assert done.returncode == 1
    assert done.stderr.strip() == f"train-node: {refused.value}"
    assert not (tmp_path / "x.ckpt").exists()
