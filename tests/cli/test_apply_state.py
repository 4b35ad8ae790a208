"""`mlspec apply-state`: a state trained outside Python goes back into the spec, and a state
file that does not fit the spec (or is not a state file) is refused in one line, writing nothing."""

from __future__ import annotations

import json
import struct
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
from tests.support.artifact_specs import mlp


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


BAD = {
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
