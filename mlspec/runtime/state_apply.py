"""Trained state from outside Python (a web page, a Node.js app) written back into a spec.

A portable state file (docs/portable_state.md) comes from code mlspec does not control, so it
is read like any hostile input: its size is bounded by what the spec's updatable tensors could
need before a byte is read, every tensor name must be one of those tensors, the running
statistics of an updatable batch norm (which training moves and the file carries), or the
optimizer state of an updatable tensor (checked, then left out); every shape must match, the
dtype must be float32, every value finite and every running variance non-negative; anything
else is refused by name before anything is written.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import numpy.typing as npt

from mlspec._proto import model_pb2, tensor_pb2
from mlspec.backends.portable.state import read_state
from mlspec.convert.backprop import updatable_layers
from mlspec.runtime.results import write_back
from mlspec.spec.errors import MlspecError
from mlspec.spec.kinds import trainable_tensors
from mlspec.spec.validate import validate

# Optimizer state tensors are named "state/<kind>/<parameter>" (mlspec/backends/portable/optimizer.py).
_OPTIMIZER_STATE = re.compile(r"state/([A-Za-z_]+)/(.+)")
# Room for the parameters, two optimizer buffers each (Adam's moments) and a generous header.
_BUFFERS_PER_PARAMETER = 3
_HEADER_ALLOWANCE = 1 << 20


class StateFileError(MlspecError):
    """A state file that does not fit the spec it is applied to."""


def updatable_tensors(model: model_pb2.Model) -> dict[str, tensor_pb2.Tensor]:
    """The spec's tensors a training backend updates, by "{layer}.{field}"."""
    return {
        f"{layer.name}.{field}": tensor
        for layer in updatable_layers(model)
        for field, tensor in trainable_tensors(layer)
        if tensor.is_updatable
    }


def running_statistics(model: model_pb2.Model) -> dict[str, tensor_pb2.Tensor]:
    """The running mean and variance of each updatable batch norm (moved by training, not trained)."""
    return {
        f"{layer.name}.{field}": getattr(layer.batch_norm, field)
        for layer in updatable_layers(model)
        if layer.WhichOneof("kind") == "batch_norm"
        for field in ("running_mean", "running_variance")
    }


def read_trained(model: model_pb2.Model, path: Path) -> dict[str, npt.NDArray[np.float32]]:
    """The trained values in `path` for each updatable tensor of `model` and each running
    statistic of its updatable batch norms, every one checked."""
    updatable = updatable_tensors(model)
    if not updatable:
        raise StateFileError("the spec has no updatable tensors; there is nothing a state file could update")
    expected = {**updatable, **running_statistics(model)}
    _check_size(path, updatable, expected)
    tensors, _ = read_state(path)
    trained: dict[str, npt.NDArray[np.float32]] = {}
    for name, values in tensors.items():
        state = _OPTIMIZER_STATE.fullmatch(name)
        owner = state.group(2) if state else name
        if owner not in (updatable if state else expected):
            listed = ", ".join(sorted(expected))
            raise StateFileError(
                f"{path}: tensor {name!r} is not an updatable tensor of this spec; it has: {listed}"
            )
        shape = tuple(expected[owner].shape)
        if values.dtype != np.float32:
            raise StateFileError(f"{path}: tensor {name!r} has dtype {values.dtype}; expected float32")
        if tuple(values.shape) != shape:
            raise StateFileError(
                f"{path}: tensor {name!r} has shape {list(values.shape)}; "
                f"the spec's {owner} has {list(shape)}"
            )
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise StateFileError(
                f"{path}: tensor {name!r} holds {bad.size} NaN or infinite values (first at flat index "
                f"{int(bad[0])}); nothing was written"
            )
        if name.endswith(".running_variance") and name not in updatable and bool((values < 0).any()):
            raise StateFileError(
                f"{path}: tensor {name!r} holds a negative variance ({float(values.min())}); "
                "nothing was written"
            )
        if state is None:
            trained[name] = values
    missing = sorted(set(expected) - set(trained))
    if missing:
        raise StateFileError(
            f"{path}: holds no value for {', '.join(missing)}; it was saved from another spec's artifacts"
        )
    return trained


def apply_state(model: model_pb2.Model, path: Path) -> model_pb2.Model:
    """A copy of `model` (validated first) holding the trained tensors of the state file `path`."""
    validate(model)
    return write_back(model, read_trained(model, Path(path)))


def _check_size(
    path: Path, updatable: dict[str, tensor_pb2.Tensor], expected: dict[str, tensor_pb2.Tensor]
) -> None:
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise StateFileError(f"{path}: cannot read the state file: {exc.strerror}") from exc
    parameters = sum(4 * int(np.prod(tensor.shape)) for tensor in updatable.values())
    statistics = sum(4 * int(np.prod(t.shape)) for name, t in expected.items() if name not in updatable)
    limit = _BUFFERS_PER_PARAMETER * parameters + statistics + _HEADER_ALLOWANCE
    if size > limit:
        raise StateFileError(
            f"{path}: {size} bytes is more than this spec's state can take ({limit} bytes at most); "
            "it was saved from another model"
        )
