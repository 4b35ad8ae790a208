"""Training backends: each turns a spec into artifacts and drives them behind one interface.

The runtime sees only `Backend` and `Session`; which backend wrote a set of artifacts is in its
manifest, so `open_session` picks the right one. A backend module is imported only when it is
used: importing this package loads neither onnx's checker nor any onnxruntime package, which is
what keeps the quick CLI commands quick.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from mlspec.convert.forms import GraphForms
from mlspec.spec.errors import MlspecError

if TYPE_CHECKING:
    from mlspec._proto import model_pb2
    from mlspec.convert.manifest import Manifest

Feeds = Mapping[str, npt.NDArray[np.generic]]
Scalar = int | float | bool

# Backend name -> the module holding its BACKEND object.
_MODULES = {
    "ort-training": "mlspec.backends.ort_training.backend",
    "portable": "mlspec.backends.portable.backend",
}
NAMES = tuple(_MODULES)
CHOICES = ("auto", *NAMES)


class Session(Protocol):
    """Training state over one artifacts directory: what Trainer, loop and checkpoints drive."""

    manifest: Manifest

    @property
    def learning_rate(self) -> float: ...

    @learning_rate.setter
    def learning_rate(self, value: float) -> None: ...

    def train_step(self, feeds: Feeds) -> float:
        """One forward, backward and optimizer step on a batch; returns the batch's loss."""
        ...

    def eval_step(self, feeds: Feeds) -> tuple[float, dict[str, npt.NDArray[np.generic]]]:
        """The loss and the eval model's other outputs on a batch, weights unchanged."""
        ...

    def parameters(self) -> dict[str, npt.NDArray[np.float32]]:
        """Every checkpointed tensor (trainable and running statistics) by name."""
        ...

    def gradients(self) -> dict[str, npt.NDArray[np.float32]]:
        """What the last train_step handed to the optimizer, by trainable tensor name."""
        ...

    def save_checkpoint(self, path: Path, properties: Mapping[str, int | float | str]) -> None:
        """Weights, optimizer state, learning rate and `properties`, written atomically."""
        ...

    def set_proximal_anchor(self, weights: Feeds) -> None:
        """Replace the proximal term's anchor (FedProx's global weights), every trainable tensor."""
        ...

    def checkpoint_properties(self) -> dict[str, int | float | str]:
        """The caller's properties of the checkpoint this session was opened from."""
        ...


class Backend(Protocol):
    """One way of training: its artifact writer and the session that drives those artifacts."""

    name: str

    def write_artifacts(self, model: model_pb2.Model, out_dir: str | os.PathLike[str]) -> Manifest:
        """Validate `model`, write its artifacts into `out_dir` all at once; return the manifest."""
        ...

    def open_session(
        self,
        artifact_dir: Path,
        *,
        hyperparameters: Mapping[str, Scalar] | None = None,
        checkpoint: Path | None = None,
    ) -> Session:
        """A session over `artifact_dir`, from its own initial state or from `checkpoint`."""
        ...


@dataclass(frozen=True)
class AssembledBackend:
    """A Backend made of its two parts, the artifact writer and the session class; each backend
    module exports one as BACKEND, so the adapter between them is written once."""

    name: str
    write_artifacts: Callable[[model_pb2.Model, str | os.PathLike[str]], Manifest]
    session: Callable[..., Session]

    def open_session(
        self,
        artifact_dir: Path,
        *,
        hyperparameters: Mapping[str, Scalar] | None = None,
        checkpoint: Path | None = None,
    ) -> Session:
        return self.session(artifact_dir, hyperparameters=hyperparameters, checkpoint=checkpoint)


def get_backend(name: str) -> Backend:
    """The backend called `name`, its module imported now (and only now)."""
    module = _MODULES.get(name)
    if module is None:
        raise MlspecError(f"backend {name!r}: unknown; use one of {', '.join(CHOICES)}")
    if name == "ort-training" and not ort_training_installed():
        raise MlspecError(
            "backend 'ort-training': onnxruntime-training is not installed (its last release, "
            "1.19.2, has wheels for Python 3.8 to 3.12 only); use --backend portable or auto"
        )
    backend: Backend = importlib.import_module(module).BACKEND
    return backend


def training_forms(name: str) -> GraphForms:
    """The op spellings the named backend's training graphs use; the feature cache runs the
    frozen layers in the same spelling, so cached features equal what training would compute."""
    if name == "ort-training":
        from mlspec.backends.ort_training.forms import ORT_FORMS

        return ORT_FORMS
    from mlspec.backends.portable.forms import PORTABLE_FORMS

    return PORTABLE_FORMS


def ort_training_installed() -> bool:
    """Whether onnxruntime-training is installed, found without importing onnxruntime."""
    found = importlib.util.find_spec("onnxruntime")
    locations = found.submodule_search_locations if found is not None else None
    return any((Path(location) / "training" / "api").is_dir() for location in locations or ())


ORT_LAYER_LIMIT = 2_000
"""Past this many layers a caller who names no backend gets `auto`, not ort-training.

onnxruntime-training's own graph passes (its pre-training optimizer, the gradient builder, the
session build) grow quadratically in nodes, while mlspec's part and the portable backend stay
linear: a ReLU chain converted in 3.4, 6.5 and 29.0 s at 1,000, 2,000 and 4,000 layers with
ort-training, 2.4, 4.9 and 5.6 s with portable (tools/bench/scaling.py has the cases)."""


def default_backend(layers: int = 0) -> str:
    """What a caller who names no backend gets for a spec of `layers` layers: ort-training where
    it is installed (Python 3.12 and older, as it always was) up to ORT_LAYER_LIMIT layers, else
    `auto`, so the same code runs on Python 3.13 and later and big graphs convert in linear time."""
    return "ort-training" if ort_training_installed() and layers <= ORT_LAYER_LIMIT else "auto"


def large_graph_note(layers: int, backend: str | None) -> str | None:
    """One line for a caller who asked for ort-training on a graph past ORT_LAYER_LIMIT layers."""
    if backend != "ort-training" or layers <= ORT_LAYER_LIMIT:
        return None
    return (
        f"note: this spec has {layers:,} layers; onnxruntime-training's graph passes take time "
        "quadratic in layers past about 2,000 (a 4,000-layer chain: 29 s, against 5.6 s with "
        "--backend portable), so --backend portable or auto converts it much faster"
    )


def to_training_artifacts(
    model: model_pb2.Model, out_dir: str | os.PathLike[str], *, backend: str | None = None
) -> Manifest:
    """Write `model`'s training artifacts with the named backend; the manifest records which.

    `auto` takes the portable backend when it covers the graph, else onnxruntime-training where
    it is installed, else refuses with the portable backend's reason (the op or layer it lacks).
    No backend (None) means `default_backend()` for the spec's layer count.
    """
    if backend is None:
        backend = default_backend(len(model.network.layers))
    if backend != "auto":
        return get_backend(backend).write_artifacts(model, out_dir)
    from mlspec.backends.portable.artifacts import NotCoveredError

    try:
        return get_backend("portable").write_artifacts(model, out_dir)
    except NotCoveredError as uncovered:
        if not ort_training_installed():
            raise MlspecError(
                f"no installed backend can train this model: {uncovered} "
                "(onnxruntime-training is not installed)"
            ) from None
        return get_backend("ort-training").write_artifacts(model, out_dir)


def open_session(
    artifact_dir: Path,
    *,
    hyperparameters: Mapping[str, Scalar] | None = None,
    checkpoint: Path | None = None,
) -> Session:
    """A session over artifacts, through the backend their manifest names."""
    from mlspec.convert.manifest import Manifest

    manifest = Manifest.load(Path(artifact_dir))
    return get_backend(manifest.backend).open_session(
        Path(artifact_dir), hyperparameters=hyperparameters, checkpoint=checkpoint
    )
