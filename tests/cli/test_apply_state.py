"""`mlspec apply-state`: a state trained outside Python goes back into the spec, and a state
file that does not fit the spec (or is not a state file) is refused in one line, writing nothing."""

from __future__ import annotations

import json
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlspec.backends import to_training_artifacts
from mlspec.backends.portable.session import PortableSession
from mlspec.backends.portable.state import read_state, write_state
from mlspec.spec.io import load, save
from tests.cli.conftest import assert_one_line_failure, invoke
from tests.cli.specs import tensor_values
from tests.support.specs import SpecMaker, mlp


@pytest.fixture
def trained(tmp_path: Path) -> tuple[Path, Path, dict[str, Any]]:
    """A spec, the state after 5 Adam steps of its portable artifacts, and those parameters."""
    spec_path = tmp_path / "model.mlspec"
    save(mlp(optimizer="adam"), spec_path)
    to_training_artifacts(load(spec_path), tmp_path / "art", backend="portable")
    session = PortableSession(tmp_path / "art")
    rng = np.random.default_rng(0)
    for _ in range(5):
        session.train_step({"x": rng.normal(size=(8, 4)).astype(np.float32), "y": rng.integers(0, 3, 8)})
    session.save_checkpoint(tmp_path / "trained.ckpt", {"epoch": 1})
    return spec_path, tmp_path / "trained.ckpt", session.parameters()


def test_the_trained_tensors_replace_the_specs(
    trained: tuple[Path, Path, dict[str, Any]], tmp_path: Path
) -> None:
    spec_path, state, parameters = trained
    result = invoke("apply-state", spec_path, state, "-o", tmp_path / "out.mlspec")
    assert result.exit_code == 0, result.output
    before, after = tensor_values(load(spec_path)), tensor_values(load(tmp_path / "out.mlspec"))
    assert set(parameters) <= set(after)
    for name, value in parameters.items():
        np.testing.assert_array_equal(after[name], value)
        assert not np.array_equal(before[name], value)
    tensors, _ = read_state(state)
    assert any(name.startswith("state/") for name in tensors)  # Adam's moments were there, left out


def _rewrite(state: Path, change: Any) -> Path:
    tensors, meta = read_state(state)
    change(tensors)
    write_state(state, tensors, meta)
    return state


def _duplicate(state: Path) -> Path:
    tensors, _ = read_state(state)
    name = next(iter(tensors))
    data = tensors[name].tobytes()
    entry = {
        "name": name,
        "dtype": "float32",
        "shape": list(tensors[name].shape),
        "offset": 0,
        "nbytes": len(data),
    }
    header = json.dumps(
        {"format": "mlspec-portable-state", "version": 1, "tensors": [entry, entry], "meta": {}}
    ).encode()
    state.write_bytes(b"MLSPECST" + struct.pack("<Q", len(header)) + header + data)
    return state


def _first(tensors: dict[str, Any]) -> str:
    return "fc1.weights" if "fc1.weights" in tensors else next(iter(tensors))


BAD: dict[str, tuple[Callable[[Path], Path], list[str]]] = {
    "not a state file": (
        lambda p: (p.write_bytes(b"PK\x03\x04 a zip"), p)[1],
        ["not an mlspec portable state file"],
    ),
    "truncated": (lambda p: (p.write_bytes(p.read_bytes()[:-7]), p)[1], ["does not fit the file"]),
    "header past the end": (
        lambda p: (p.write_bytes(b"MLSPECST" + struct.pack("<Q", 2**62) + b"{}"), p)[1],
        ["runs past the end"],
    ),
    "unknown name": (
        lambda p: _rewrite(p, lambda t: t.update({"../../etc/passwd": np.zeros(3, np.float32)})),
        ["'../../etc/passwd'", "not an updatable tensor", "fc1.weights"],
    ),
    "wrong shape": (
        lambda p: _rewrite(p, lambda t: t.update({_first(t): np.zeros((2, 2), np.float32)})),
        ["shape [2, 2]"],
    ),
    "wrong optimizer state shape": (
        lambda p: _rewrite(
            p, lambda t: t.update({next(n for n in t if n.startswith("state/")): np.zeros(1, np.float32)})
        ),
        ["state/", "shape [1]"],
    ),
    "bool dtype": (
        lambda p: _rewrite(p, lambda t: t.update({_first(t): np.ones(t[_first(t)].shape, np.bool_)})),
        ["dtype bool", "float32"],
    ),
    "NaN": (
        lambda p: _rewrite(p, lambda t: t[_first(t)].flat.__setitem__(3, np.nan)),
        ["NaN or infinite", "flat index 3"],
    ),
    "missing tensor": (lambda p: _rewrite(p, lambda t: t.pop(_first(t))), ["holds no value for fc1.weights"]),
    "duplicate name": (_duplicate, ["appears twice"]),
    "far too large": (
        lambda p: (p.write_bytes(p.read_bytes() + bytes(8 << 20)), p)[1],
        ["more than this spec's state can take"],
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_state_that_does_not_fit_is_refused_and_nothing_written(
    trained: tuple[Path, Path, dict[str, Any]], tmp_path: Path, case: str
) -> None:
    spec_path, state, _ = trained
    spoil, fragments = BAD[case]
    spoil(state)
    out = tmp_path / "out.mlspec"
    message = assert_one_line_failure(invoke("apply-state", spec_path, state, "-o", out), *fragments)
    assert str(state) in message or "state file" in message
    assert not out.exists()


def test_the_output_may_not_be_an_input(trained: tuple[Path, Path, dict[str, Any]]) -> None:
    spec_path, state, _ = trained
    before = spec_path.read_bytes()
    assert_one_line_failure(invoke("apply-state", spec_path, state, "-o", spec_path), "names an input file")
    assert spec_path.read_bytes() == before


def test_a_missing_state_file_is_named(trained: tuple[Path, Path, dict[str, Any]], tmp_path: Path) -> None:
    spec_path, _, _ = trained
    assert_one_line_failure(
        invoke("apply-state", spec_path, tmp_path / "nope.ckpt", "-o", tmp_path / "o.mlspec"), "nope.ckpt"
    )


def _batch_norm_spec() -> Any:
    """x[4] -> dense -> batch norm (updatable, so training moves its running statistics) -> ..."""
    maker = SpecMaker("bn")
    maker.input("x", [4])
    maker.dense("fc1", "x", "h", (4, 8))
    maker.batch_norm("bn", "h", "h_bn", 8)
    maker.activation("relu", "h_bn", "h_relu")
    maker.dense("fc2", "h_relu", "logits", (8, 3))
    maker.softmax("softmax", "logits", "probs")
    maker.output("probs")
    maker.target("y", kind="int64")
    maker.loss("ce", "categorical_cross_entropy", "probs", "y")
    maker.adam()
    return maker.spec()


@pytest.fixture
def trained_batch_norm(tmp_path: Path) -> tuple[Path, Path, dict[str, Any]]:
    spec_path = tmp_path / "bn.mlspec"
    save(_batch_norm_spec(), spec_path)
    to_training_artifacts(load(spec_path), tmp_path / "art", backend="portable")
    session = PortableSession(tmp_path / "art")
    rng = np.random.default_rng(1)
    for _ in range(5):
        x = rng.normal(2.0, 3.0, size=(8, 4)).astype(np.float32)
        session.train_step({"x": x, "y": rng.integers(0, 3, 8)})
    session.save_checkpoint(tmp_path / "trained.ckpt", {})
    return spec_path, tmp_path / "trained.ckpt", session.parameters()


def test_batch_norm_running_statistics_are_written_back(
    trained_batch_norm: tuple[Path, Path, dict[str, Any]], tmp_path: Path
) -> None:
    spec_path, state, parameters = trained_batch_norm
    result = invoke("apply-state", spec_path, state, "-o", tmp_path / "out.mlspec")
    assert result.exit_code == 0, result.output
    before, after = tensor_values(load(spec_path)), tensor_values(load(tmp_path / "out.mlspec"))
    assert {"bn.running_mean", "bn.running_variance", "bn.gamma", "fc1.weights"} <= set(parameters)
    for name, value in parameters.items():
        np.testing.assert_array_equal(after[name], value, err_msg=name)
        assert not np.array_equal(before[name], value), name


BAD_STATISTICS = {
    "negative running variance": (
        lambda t: t["bn.running_variance"].__setitem__(2, -0.5),
        ["'bn.running_variance'", "negative variance (-0.5)"],
    ),
    "optimizer state for a running statistic": (
        lambda t: t.update({"state/exp_avg/bn.running_mean": np.zeros(8, np.float32)}),
        ["'state/exp_avg/bn.running_mean'", "not an updatable tensor"],
    ),
    "running statistic missing": (lambda t: t.pop("bn.running_mean"), ["holds no value for bn.running_mean"]),
    "running statistic of the wrong shape": (
        lambda t: t.update({"bn.running_mean": np.zeros(3, np.float32)}),
        ["'bn.running_mean'", "shape [3]"],
    ),
    "infinite running mean": (
        lambda t: t["bn.running_mean"].__setitem__(0, np.inf),
        ["'bn.running_mean'", "NaN or infinite"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_STATISTICS))
def test_running_statistics_are_checked_like_the_rest(
    trained_batch_norm: tuple[Path, Path, dict[str, Any]], tmp_path: Path, case: str
) -> None:
    spec_path, state, _ = trained_batch_norm
    spoil, fragments = BAD_STATISTICS[case]
    _rewrite(state, spoil)
    out = tmp_path / "out.mlspec"
    assert_one_line_failure(invoke("apply-state", spec_path, state, "-o", out), str(state), *fragments)
    assert not out.exists()
