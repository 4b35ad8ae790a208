"""Frozen features computed once: the frozen front of a network runs once per example, not per epoch.

When every updatable layer lies behind a frozen front (`mlspec.builder.frozen_prefix`), the
Trainer trains only the rest of the network and feeds it the front's outputs. `FrozenFront`
turns a data source for the whole model into one for the rest:

- in-memory data (arrays, .npz, CSV, image folders) goes through the front once, and the
  features are kept in a `FeatureCache` keyed by a digest of the front's spec (its weights
  included) and of the input arrays, so changed data or changed frozen weights are computed
  afresh and the same data in a second `train` call, or the validation set in every epoch, is
  not;
- streamed data (a batch provider) goes through the front batch by batch in every epoch, since
  a provider may hand out a different (augmented) example each time it is asked.

Memory: features stay in memory up to `memory_limit` bytes in all; a data set past that goes to
a memory-mapped file in `directory` (the system's temporary directory by default). The file is
unlinked as soon as it is created, so it has no name on disk and the kernel frees it when the
arrays are dropped or the process ends in any way, a kill included.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import shutil
import tempfile
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from mlspec._proto import model_pb2
from mlspec.backends import training_forms
from mlspec.backends.inference import InferenceModel
from mlspec.builder.frozen_prefix import FrozenSplit
from mlspec.convert.graph import build_graph
from mlspec.runtime.data import ArraySource, DataSource, Selection
from mlspec.runtime.features import spec_input_features
from mlspec.spec.errors import MlspecError

Array = npt.NDArray[np.generic]
DEFAULT_MEMORY_LIMIT = 1 << 30  # 1 GiB of features in memory before spilling to disk
_BATCH = 64  # examples per forward pass of the front
_KEPT_DATA_SETS = 4  # training and validation sets of a couple of calls


@dataclass
class _Entry:
    arrays: dict[str, Array]
    nbytes: int
    spilled: bool


class FeatureCache:
    """The front's outputs per (front, data) digest; share one between trainers to reuse them."""

    def __init__(
        self, memory_limit: int = DEFAULT_MEMORY_LIMIT, directory: str | os.PathLike[str] | None = None
    ):
        if memory_limit < 0:
            raise MlspecError(f"feature cache memory_limit={memory_limit} must be at least 0 bytes")
        self.memory_limit = memory_limit
        self.directory = Path(directory) if directory is not None else Path(tempfile.gettempdir())
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        # Examples run through a front so far: what tests and the benchmark read to see reuse.
        self.examples_computed = 0

    def get(self, key: str) -> dict[str, Array] | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        self._entries.move_to_end(key)
        return entry.arrays

    def allocate(self, key: str, shapes: dict[str, tuple[int, ...]]) -> dict[str, Array]:
        """Empty float32 arrays for a new entry: in memory while under the limit, else on disk."""
        while len(self._entries) >= _KEPT_DATA_SETS:
            self._entries.popitem(last=False)
        sizes = {name: int(np.prod(shape)) * 4 for name, shape in shapes.items()}
        total = sum(sizes.values())
        in_memory = sum(entry.nbytes for entry in self._entries.values() if not entry.spilled)
        spilled = in_memory + total > self.memory_limit
        arrays = {
            name: self._mapped(shape, sizes[name]) if spilled else np.empty(shape, np.float32)
            for name, shape in shapes.items()
        }
        self._entries[key] = _Entry(arrays, total, spilled)
        return arrays

    def discard(self, key: str) -> None:
        self._entries.pop(key, None)

    def spilled(self, key: str) -> bool:
        entry = self._entries.get(key)
        return entry is not None and entry.spilled

    def clear(self) -> None:
        """Drop every entry; memory-mapped files vanish with the last array that uses them."""
        self._entries.clear()

    def _mapped(self, shape: tuple[int, ...], size: int) -> Array:
        free = shutil.disk_usage(self.directory).free
        if size > free:
            raise MlspecError(
                f"{self.directory}: the feature cache needs {size / 2**20:.1f} MiB on disk and "
                f"{free / 2**20:.1f} MiB are free; raise the memory limit, choose another directory, "
                "or train without the cache (--no-feature-cache)"
            )
        with tempfile.TemporaryFile(dir=self.directory) as handle:  # unlinked at creation
            handle.truncate(max(size, 1))
            region = mmap.mmap(handle.fileno(), max(size, 1))  # keeps its own reference to the file
        return np.frombuffer(region, dtype=np.float32, count=size // 4).reshape(shape)


class FrozenFront:
    """The frozen front of one spec: runs it, caches what it computes, describes what it did."""

    def __init__(
        self,
        model: model_pb2.Model,
        split: FrozenSplit,
        backend: str,
        cache: FeatureCache | None = None,
    ) -> None:
        self.split = split
        # The whole model's inputs: what the data holds, checked before the front sees it.
        self.inputs = spec_input_features(model)
        self.cache = cache if cache is not None else FeatureCache()
        # The front as the training graph spells it (a frozen batch norm folded for ORT, say):
        # the inference spelling differs in the last bits, which Adam can magnify.
        forms = training_forms(backend)
        graph = build_graph(split.front, training=True, forms=forms).onnx_model
        self._model = InferenceModel(graph.SerializeToString())
        digest = hashlib.sha256(split.front.SerializeToString(deterministic=True))
        digest.update(repr(forms).encode())
        self._digest = digest.hexdigest()
        self.last_note = ""

    def through(self, source: DataSource) -> DataSource:
        """A source for the rest of the network: cached features for arrays, computed per batch else."""
        if not isinstance(source, ArraySource):
            self.last_note = (
                "off for this data: it is streamed from a provider, which may change an example "
                "between epochs, so the frozen layers run in every epoch"
            )
            return _PerBatch(self, source)
        raw = {f.name: source.arrays[f.name] for f in self.inputs}
        others = {name: array for name, array in source.arrays.items() if name not in raw}
        key = self._key(raw)
        features = self.cache.get(key)
        reused = features is not None
        if features is None:
            features = self._compute(key, raw, len(source))
        where = "on disk (memory-mapped)" if self.cache.spilled(key) else "in memory"
        size = sum(array.nbytes for array in features.values())
        self.last_note = (
            f"on: {len(self.split.front_layers)} frozen layers run once per example"
            f"{' (reused)' if reused else ''}; {len(source)} examples, {_size(size)} {where}"
        )
        return ArraySource({**features, **others})

    def run(self, feeds: dict[str, Array]) -> dict[str, Array]:
        outputs = self._model.run(feeds)
        return {name: outputs[name] for name in self.split.cut}

    def _key(self, raw: dict[str, Array]) -> str:
        digest = hashlib.sha256(self._digest.encode())
        for name in sorted(raw):
            array = np.ascontiguousarray(raw[name])
            digest.update(f"{name}|{array.dtype.str}|{array.shape}".encode())
            digest.update(array.data)
        return digest.hexdigest()

    def _compute(self, key: str, raw: dict[str, Array], count: int) -> dict[str, Array]:
        first = self.run({name: array[:1] for name, array in raw.items()})
        shapes = {name: (count, *value.shape[1:]) for name, value in first.items()}
        arrays = self.cache.allocate(key, shapes)
        try:
            for start in range(0, count, _BATCH):
                window = slice(start, min(start + _BATCH, count))
                for name, value in self.run({n: a[window] for n, a in raw.items()}).items():
                    arrays[name][window] = value
                self.cache.examples_computed += window.stop - window.start
        except BaseException:
            self.cache.discard(key)  # never keep half-computed features
            raise
        return arrays


class _PerBatch:
    """Streamed data through the front, batch by batch, every time it is read."""

    def __init__(self, front: FrozenFront, source: DataSource) -> None:
        self.front = front
        self.source = source
        self.raw = {f.name for f in front.inputs}

    def __len__(self) -> int:
        return len(self.source)

    def batch(self, selection: Selection) -> dict[str, Array]:
        batch = self.source.batch(selection)
        inputs = {name: batch.pop(name) for name in self.raw}
        return {**self.front.run(inputs), **batch}


def _size(count: int) -> str:
    return f"{count / 2**20:.1f} MiB" if count >= 2**20 else f"{count / 2**10:.1f} KiB"
