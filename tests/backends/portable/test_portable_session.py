"""The portable backend trains like the ort-training backend and like PyTorch's update rules.

Each case converts one MLP spec with both backends and feeds the same batches to both sessions:
after every step the portable parameters must equal (1) the numpy reference optimizer applied
to the previous parameters with the gradients the portable step reported, and, after all steps,
(2) the ort-training session's parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from mlspec._proto import model_pb2
from mlspec.backends import open_session, to_training_artifacts
from mlspec.backends.portable.session import PortableSession
from mlspec.convert.manifest import Manifest
from tests.support import optim_reference as ref
from tests.support.specs import SpecMaker

STEPS = 30


def mlp(configure: Callable[[SpecMaker], object]) -> model_pb2.Model:
    maker = SpecMaker("mlp")
    maker.input("x", [6])
    maker.dense("fc1", "x", "h", (6, 16))
    maker.activation("relu", "h", "h_relu")
    maker.dense("fc2", "h_relu", "logits", (16, 3))
    maker.softmax("softmax", "logits", "probs")
    maker.output("probs")
    maker.target("y", kind="int64")
    maker.loss("ce", "categorical_cross_entropy", "probs", "y")
    configure(maker)
    return maker.spec()


CASES: dict[str, tuple[Callable[[SpecMaker], object], Callable[[], ref.SGD | ref.Adam], dict[str, float]]] = {
    "sgd": (lambda m: m.sgd(0.1), lambda: ref.SGD(0.1), {}),
    "sgd momentum nesterov decay": (
        lambda m: m.sgd(0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
        lambda: ref.SGD(0.05, momentum=0.9, nesterov=True, weight_decay=0.01),
        {},
    ),
    "sgd momentum, clip norm": (
        lambda m: m.sgd(0.1, momentum=0.5).clip(norm=0.05),
        lambda: ref.SGD(0.1, momentum=0.5),
        {"norm": 0.05},
    ),
    "adam decay, clip value": (
        lambda m: m.adam(0.01, weight_decay=0.1).clip(value=0.01),
        lambda: ref.Adam(0.01, weight_decay=0.1),
        {"value": 0.01},
    ),
    "adamw": (
        lambda m: m.adam(0.01, decoupled=True, weight_decay=0.05),
        lambda: ref.AdamW(0.01, weight_decay=0.05),
        {},
    ),
}


def batches(manifest: Manifest) -> list[dict[str, np.ndarray]]:
    rng = np.random.default_rng(7)
    assert manifest.feed_order == ["x", "y"]
    return [
        {"x": rng.normal(size=(8, 6)).astype(np.float32), "y": rng.integers(0, 3, size=8).astype(np.int64)}
        for _ in range(STEPS)
    ]


@pytest.mark.parametrize("case", list(CASES))
def test_portable_matches_the_reference_optimizer(case: str, tmp_path: Path) -> None:
    configure, make_reference, clipping = CASES[case]
    portable_manifest = to_training_artifacts(mlp(configure), tmp_path / "portable", backend="portable")
    assert portable_manifest.backend == "portable"
    portable = open_session(tmp_path / "portable")
    reference = make_reference()
    expected: ref.Arrays = {name: value.astype(np.float64) for name, value in portable.parameters().items()}
    for feeds in batches(portable_manifest):
        portable.train_step(feeds)
        grads: ref.Arrays = {name: value.astype(np.float64) for name, value in portable.gradients().items()}
        if "norm" in clipping:
            ref.clip_grad_norm_(grads, clipping["norm"])
        if "value" in clipping:
            ref.clip_grad_value_(grads, clipping["value"])
        reference.step(expected, grads)
        got = portable.parameters()
        for name, value in got.items():
            np.testing.assert_allclose(value, expected[name], rtol=1e-5, atol=1e-6, err_msg=name)
        expected = {name: value.astype(np.float64) for name, value in got.items()}


@pytest.mark.ort_training
@pytest.mark.parametrize("case", list(CASES))
def test_portable_matches_ort_training(case: str, tmp_path: Path) -> None:
    spec = mlp(CASES[case][0])
    portable_manifest = to_training_artifacts(spec, tmp_path / "portable", backend="portable")
    to_training_artifacts(spec, tmp_path / "ort", backend="ort-training")
    portable = open_session(tmp_path / "portable")
    ort = open_session(tmp_path / "ort")
    for feeds in batches(portable_manifest):
        assert portable.train_step(feeds) == pytest.approx(ort.train_step(feeds), rel=1e-5)
    ort_parameters = ort.parameters()
    for name, value in portable.parameters().items():
        np.testing.assert_allclose(value, ort_parameters[name], rtol=1e-5, atol=1e-6, err_msg=name)


@pytest.mark.ort_training
def test_a_shorter_batch_and_the_callers_reused_arrays_train_as_fresh_batches(tmp_path: Path) -> None:
    """The step copies each batch into buffers bound once: a batch of another size gets its own,
    and the caller may overwrite its arrays after the call without touching the next step."""
    spec = mlp(CASES["adamw"][0])
    to_training_artifacts(spec, tmp_path / "portable", backend="portable")
    to_training_artifacts(spec, tmp_path / "ort", backend="ort-training")
    portable = open_session(tmp_path / "portable")
    assert isinstance(portable, PortableSession)
    ort = open_session(tmp_path / "ort")
    rng = np.random.default_rng(3)
    reused: dict[str, npt.NDArray[np.generic]] = {
        "x": np.empty((8, 6), dtype=np.float32),
        "y": np.empty(8, dtype=np.int64),
    }
    feeds: Mapping[str, npt.ArrayLike]
    for size in (8, 8, 3, 8, 3, 3, 8):
        x = rng.normal(size=(size, 6)).astype(np.float32)
        y = rng.integers(0, 3, size=size).astype(np.int64)
        if size == 8:  # the same two arrays every time, refilled, as a loader's buffers would be
            reused["x"][...], reused["y"][...] = x, y
            feeds = reused
        else:
            feeds = {"x": x[::1], "y": list(y)}  # a list is taken as an array too
        assert portable.train_step(feeds) == pytest.approx(ort.train_step({"x": x, "y": y}), rel=1e-5)
        reused["x"][...] = np.nan  # overwritten after the call: the next step must not see it
    ort_parameters = ort.parameters()
    for name, value in portable.parameters().items():
        np.testing.assert_allclose(value, ort_parameters[name], rtol=1e-5, atol=1e-6, err_msg=name)
