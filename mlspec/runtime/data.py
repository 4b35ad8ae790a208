"""Training data in every form users have it, checked before training and fed batch by batch.

Every source is normalised into a `DataSource` that hands the trainer ready-to-feed batches
(float32 features, int64 class indices), so the training loop never converts or checks data
itself. In-memory data is checked completely up front; a provider is probed on its first example
up front and then checked batch by batch, naming the example index that broke the rules.

Accepted data: a dict of arrays; arrays in feature order; a path or `DataFile` (.npz, CSV, or a
folder of images, see `data_files`); a sequence of example dicts; any other iterable of example
dicts (a generator); or a batch provider, the shape of Core ML's MLBatchProvider:

    class MyProvider:
        def __len__(self) -> int: ...                           # number of examples
        def __getitem__(self, index: int) -> dict[str, array]:  # one example, no batch axis
        # (or `example(self, index)` instead of __getitem__)

A provider (or a sequence) is streamed: it is asked for each example when that example's
mini-batch is built, in the (shuffled) order the trainer chooses, so it may load from disk or
augment on the fly. Memory bound: besides the model, the data path holds at most three copies of
max(batch size, 256) examples (the examples, their stacked batch, and the feed handed to ORT;
evaluation and prediction read 256 at a time); tests/runtime/test_streaming.py measures it. A
one-shot iterable (a generator) cannot be read again each epoch, so it is read once into arrays.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np
import numpy.typing as npt

from mlspec.runtime.data_error import DataError, missing_keys_error
from mlspec.runtime.data_files import DataFile
from mlspec.runtime.features import FeatureSpec
from mlspec.runtime.npz import load_npz
from mlspec.runtime.pixels import to_tensor

__all__ = ["BatchProvider", "DataError", "DataFile", "DataSource", "as_source", "convert", "load_npz"]

Array = npt.NDArray[np.generic]
Selection = slice | npt.NDArray[np.int64]
_SHOWN_LABELS = 5


@runtime_checkable
class BatchProvider(Protocol):
    """A provider with `example(index)`; `__getitem__` providers are accepted the same way."""

    def __len__(self) -> int: ...

    def example(self, index: int) -> Mapping[str, npt.ArrayLike]: ...


class DataSource(Protocol):
    """What the trainer reads: a length and batches of converted, checked feeds."""

    def __len__(self) -> int: ...

    def batch(self, selection: Selection) -> dict[str, Array]: ...


class ArraySource:
    """Arrays already converted and checked; a batch is a slice or a gather along axis 0."""

    def __init__(self, arrays: dict[str, Array]) -> None:
        self.arrays = arrays
        self._length = len(next(iter(arrays.values())))

    def __len__(self) -> int:
        return self._length

    def batch(self, selection: Selection) -> dict[str, Array]:
        return {name: array[selection] for name, array in self.arrays.items()}


class ProviderSource:
    """Stacks a provider's examples into batches, checking each batch as it is built."""

    def __init__(self, provider: object, features: Sequence[FeatureSpec], where: str) -> None:
        self.example = _example_reader(provider, where)
        self.provider = provider
        self.features = list(features)
        self.where = where
        self._length = len(provider)  # type: ignore[arg-type]
        if self._length <= 0:
            raise DataError(f"{where}: the batch provider holds no examples (len() is {self._length})")
        self.batch(np.zeros(1, dtype=np.int64))

    def __len__(self) -> int:
        return self._length

    def batch(self, selection: Selection) -> dict[str, Array]:
        indices = range(self._length)[selection] if isinstance(selection, slice) else selection
        examples = [(int(index), self.example(int(index))) for index in indices]
        stacked: dict[str, Array] = {}
        for feature in self.features:
            values = []
            for index, example in examples:
                if not isinstance(example, Mapping):
                    raise DataError(
                        f"{self.where}: example {index} is a {type(example).__name__}, not a dict keyed by "
                        f"{_names(self.features)}"
                    )
                if feature.name not in example:
                    raise DataError(
                        f"{self.where}: example {index} has no {feature.name!r}; "
                        f"expected keys: {_names(self.features)} (got: {_keys(example)})"
                    )
                values.append(np.asarray(example[feature.name]))
            shapes = {value.shape for value in values}
            if len(shapes) > 1:
                # Name the first example that differs from the model's shape, not just "mismatch";
                # images of different sizes are each resized to the input's size.
                parts = [
                    convert(feature, value[np.newaxis], f"{self.where} (example {index})")
                    for (index, _), value in zip(examples, values, strict=True)
                ]
                if feature.image is not None:
                    stacked[feature.name] = np.concatenate(parts)
                    continue
            stacked[feature.name] = convert(feature, np.stack(values), self._where_batch(examples))
        return stacked

    def _where_batch(self, examples: Sequence[tuple[int, object]]) -> str:
        first, last = examples[0][0], examples[-1][0]
        span = f"examples {first}..{last}" if first != last else f"example {first}"
        return f"{self.where} ({span})"


def as_source(data: object, features: Sequence[FeatureSpec], *, where: str) -> DataSource:
    """Turn any accepted form of data (see the module docstring) into a checked source for `features`."""
    if isinstance(data, str | os.PathLike):
        data = DataFile(Path(data))
    if isinstance(data, DataFile):
        where = f"{where} {data.path.name}"
        data = data.read(features)
    if isinstance(data, Mapping):
        return ArraySource(_checked(data, features, where))
    if isinstance(data, np.ndarray):
        data = (data,)
    if isinstance(data, tuple | list) and not (data and isinstance(data[0], Mapping)):
        if len(data) != len(features):
            raise DataError(
                f"{where}: {len(data)} arrays given, expected {len(features)} "
                f"in this order: {_names(features)}"
            )
        named = dict(zip((f.name for f in features), data, strict=True))
        return ArraySource(_checked(named, features, where))
    if hasattr(data, "__len__") and (hasattr(data, "example") or hasattr(data, "__getitem__")):
        return ProviderSource(data, features, where)
    if isinstance(data, Iterable) and not isinstance(data, str | bytes):
        examples = list(data)
        if not examples:
            raise DataError(f"{where}: the iterable yielded no examples")
        return ArraySource(ProviderSource(examples, features, where).batch(slice(None)))
    raise DataError(
        f"{where}: unsupported data of type {type(data).__name__}; give a dict of arrays keyed by "
        f"{_names(features)}, a tuple of arrays in that order, a data file (.npz, .csv or a folder of "
        "images), examples as dicts (a list or a generator), or a batch provider"
    )


def _example_reader(provider: object, where: str) -> Callable[[int], object]:
    """`provider.example` when it has one (mlspec's first protocol), else `provider[index]`."""
    reader = getattr(provider, "example", None) or getattr(provider, "__getitem__", None)
    if not callable(reader):
        raise DataError(f"{where}: a batch provider needs example(index) or __getitem__(index)")
    return reader  # type: ignore[no-any-return]


def _checked(
    arrays: Mapping[str, npt.ArrayLike], features: Sequence[FeatureSpec], where: str
) -> dict[str, Array]:
    missing = [f.name for f in features if f.name not in arrays]
    if missing:
        raise missing_keys_error(where, missing, [f.name for f in features], arrays)
    converted = {f.name: convert(f, np.asarray(arrays[f.name]), where) for f in features}
    lengths = {name: len(array) for name, array in converted.items()}
    if len(set(lengths.values())) > 1:
        detail = ", ".join(f"{name!r} has {length}" for name, length in lengths.items())
        raise DataError(f"{where}: arrays have different numbers of examples: {detail}")
    if not next(iter(lengths.values()), 0):
        raise DataError(f"{where}: no examples (the arrays are empty)")
    return converted


def convert(feature: FeatureSpec, array: Array, where: str) -> Array:
    """Check one batched feature against the model and convert it to the dtype the session takes."""
    if array.dtype == object:
        raise DataError(f"{where}: {feature.name!r} holds Python objects; give a numeric or string array")
    if array.ndim == 0:
        raise DataError(f"{where}: {feature.name!r} is a scalar; expected one value per example")
    if feature.is_class_label:
        return _class_indices(feature, array, where)
    if feature.image is not None:
        return to_tensor(feature.image, feature.name, array, where)
    _check_shape(feature, array, where)
    if feature.dtype == np.float32:
        if array.dtype.kind != "f":
            raise DataError(
                f"{where}: {feature.name!r} has dtype {array.dtype}, expected float32 "
                "(float16 and float64 are converted)"
            )
        with np.errstate(over="ignore"):  # values past float32's range are reported just below
            converted = np.ascontiguousarray(array, dtype=np.float32)
        _check_finite(feature, array, converted, where)
        return converted
    if feature.dtype.kind in "iu":
        return _integers(feature, array, where)
    if feature.dtype == np.bool_:
        if array.dtype.kind != "b" and not (array.dtype.kind in "iu" and np.isin(array, (0, 1)).all()):
            raise DataError(
                f"{where}: {feature.name!r} has dtype {array.dtype}, expected bool (or 0/1 integers)"
            )
        return np.ascontiguousarray(array, dtype=np.bool_)
    return np.ascontiguousarray(array)


def _integers(feature: FeatureSpec, array: Array, where: str) -> Array:
    """Integer data for an integer input, refused rather than wrapped when a value does not fit
    (300 fed to a uint8 input would silently become 44)."""
    if array.dtype.kind not in "iu":
        raise DataError(f"{where}: {feature.name!r} has dtype {array.dtype}, expected an integer dtype")
    bounds = np.iinfo(feature.dtype.name)
    if array.size and not np.can_cast(array.dtype, feature.dtype):
        low, high = int(array.min()), int(array.max())
        if low < bounds.min or high > bounds.max:
            raise DataError(
                f"{where}: {feature.name!r} holds values {low}..{high}; the model's {feature.dtype} "
                f"input takes {bounds.min}..{bounds.max}"
            )
    return np.ascontiguousarray(array, dtype=feature.dtype)


def _check_finite(feature: FeatureSpec, original: Array, converted: Array, where: str) -> None:
    """NaN or Inf in a feature (or a float64 value past float32's range) would train a NaN model.

    A float64 sum carries any NaN or Inf through without a full-size temporary (streamed data has
    a stated memory bound); only a failing batch is searched for its first bad row."""
    if np.isfinite(converted.sum(dtype=np.float64)):
        return
    finite = np.isfinite(converted).reshape(len(converted), -1).all(axis=1)
    if finite.all():
        return
    rows = np.flatnonzero(~finite)
    bad = converted[rows[0]].reshape(-1)
    value = bad[~np.isfinite(bad)][0]
    reason = "" if not np.isfinite(original[rows[0]]).all() else " (too large for float32)"
    raise DataError(
        f"{where}: {feature.name!r} row {rows[0]} holds {value}{reason}; features must be finite "
        f"numbers{_more(rows.size)}"
    )


def _check_shape(feature: FeatureSpec, array: Array, where: str) -> None:
    got = array.shape[1:]
    expected = feature.example_shape
    fits = len(got) == len(expected) and all(e is None or e == g for e, g in zip(expected, got, strict=True))
    if not fits:
        want = (
            "("
            + ", ".join("any" if e is None else str(e) for e in expected)
            + ("," if len(expected) == 1 else "")
            + ")"
        )
        raise DataError(
            f"{where}: {feature.name!r} has per-example shape {tuple(got)}, expected {want} "
            f"(array shape {tuple(array.shape)}, first axis = examples)"
        )


def _integer_strings(feature: FeatureSpec, array: Array, where: str) -> Array:
    """Strings naming integer class labels ("7" for the class 7, as a CSV column holds them)."""
    try:
        return np.array([int(value) for value in array], dtype=np.int64)
    except ValueError:
        bad = next(value for value in array if not value.strip().lstrip("-").isdigit())
        raise DataError(
            f"{where}: {feature.name!r} holds {bad!r}; this model's class labels are the integers "
            f"{', '.join(map(str, (feature.labels or ())[:10]))}"
        ) from None


def _class_indices(feature: FeatureSpec, array: Array, where: str) -> Array:
    """Class-label strings, int indices (or int label values) or one-hot rows -> int64 indices."""
    labels = feature.labels
    count = feature.class_count
    if array.ndim == 2 and count is not None and array.shape[1] == count and count > 1:
        return _from_one_hot(feature, array, where)
    if array.ndim == 2 and array.shape[1] == 1:
        array = array[:, 0]
    if array.ndim != 1:
        one_hot = f" or one-hot rows ([N, {count}])" if count else ""
        raise DataError(
            f"{where}: {feature.name!r} has shape {tuple(array.shape)}; "
            f"expected one label per example ([N]){one_hot}"
        )
    if array.dtype.kind in "US":
        if labels and isinstance(labels[0], int):
            array = _integer_strings(feature, array.astype(str), where)
        elif labels is None:
            raise DataError(f"{where}: {feature.name!r} holds strings; this model takes integer class labels")
        else:
            return _lookup(feature, array.astype(str), where)
    if labels and isinstance(labels[0], int):
        if array.dtype.kind not in "iu":
            raise DataError(
                f"{where}: {feature.name!r} has dtype {array.dtype}; expected integer class labels"
            )
        return _lookup(feature, array, where)
    if array.dtype.kind == "f":
        floats = array.astype(np.float64)
        if np.all(np.isfinite(floats)) and np.all(floats == np.round(floats)):
            array = floats.astype(np.int64)
    span = f"[0, {count - 1}]" if count else "[0, classes - 1]"
    if array.dtype.kind not in "iu":
        raise DataError(
            f"{where}: {feature.name!r} has dtype {array.dtype}; expected class-label strings, "
            f"integer indices in {span}, or one-hot rows"
        )
    indices = array.astype(np.int64)
    bad = np.flatnonzero(
        (indices < 0) | (indices >= (count if count is not None else np.iinfo(np.int64).max))
    )
    if bad.size:
        total = f" ({count} classes)" if count else ""
        raise DataError(
            f"{where}: {feature.name!r}[{bad[0]}] = {indices[bad[0]]} is out of range; class indices must be "
            f"in {span}{total}{_more(bad.size)}"
        )
    return indices


def _lookup(feature: FeatureSpec, array: Array, where: str) -> Array:
    labels = feature.labels or ()
    index_of = {label: i for i, label in enumerate(labels)}
    uniques, inverse = np.unique(array, return_inverse=True)
    mapped = np.empty(len(uniques), dtype=np.int64)
    for position, value in enumerate(uniques.tolist()):
        if value not in index_of:
            shown = ", ".join(repr(label) for label in labels[:_SHOWN_LABELS])
            extra = f", ... ({len(labels)} in all)" if len(labels) > _SHOWN_LABELS else ""
            first = int(np.flatnonzero(array == value)[0])
            raise DataError(
                f"{where}: {feature.name!r}[{first}] = {value!r} is not a class label of this model; "
                f"valid labels: {shown}{extra}"
            )
        mapped[position] = index_of[value]
    return mapped[inverse.reshape(-1)]


def _from_one_hot(feature: FeatureSpec, array: Array, where: str) -> Array:
    rows = array.astype(np.float64)
    is_one_hot = np.all((rows == 0) | (rows == 1), axis=1) & (rows.sum(axis=1) == 1)
    bad = np.flatnonzero(~is_one_hot)
    if bad.size:
        raise DataError(
            f"{where}: {feature.name!r} row {bad[0]} is not one-hot (exactly one 1, the rest 0); "
            f"soft labels are not supported by the cross-entropy loss{_more(bad.size)}"
        )
    indices: Array = np.argmax(rows, axis=1).astype(np.int64)
    return indices


def _more(count: int) -> str:
    return f" ({count - 1} more)" if count > 1 else ""


def _keys(arrays: Mapping[str, object]) -> str:
    return ", ".join(sorted(arrays)) or "none"


def _names(features: Sequence[FeatureSpec]) -> str:
    return ", ".join(f.name for f in features)
