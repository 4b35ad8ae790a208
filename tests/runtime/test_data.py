"""Data sources refuse every kind of bad data before training, naming what was expected."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from mlspec.runtime.data import DataError, as_source
from mlspec.runtime.features import FeatureSpec

X = FeatureSpec("x", "input", np.dtype(np.float32), (4,))
LABELS = ("cat", "dog", "fish")
LABEL = FeatureSpec("label", "target", np.dtype(np.int64), (), 3, LABELS, is_class_label=True)
INDEX = FeatureSpec("label", "target", np.dtype(np.int64), (), 3, None, is_class_label=True)
INT_LABELS = FeatureSpec("label", "target", np.dtype(np.int64), (), 3, (10, 20, 30), is_class_label=True)
FEATURES = [X, LABEL]


def _x(count: int = 5) -> npt.NDArray[np.float64]:
    return np.arange(count * 4, dtype=np.float64).reshape(count, 4)


def test_float64_features_become_float32_and_string_labels_become_indices() -> None:
    source = as_source(
        {"x": _x(), "label": np.array(["dog", "cat", "fish", "dog", "cat"])}, FEATURES, where="d"
    )
    batch = source.batch(slice(None))
    assert batch["x"].dtype == np.float32
    np.testing.assert_array_equal(batch["x"], _x().astype(np.float32))
    assert batch["label"].dtype == np.int64
    np.testing.assert_array_equal(batch["label"], [1, 0, 2, 1, 0])


def test_any_int_dtype_and_one_hot_and_integral_floats_give_the_same_indices() -> None:
    indices = np.array([2, 0, 1, 1, 0])
    expected = indices.astype(np.int64)
    for labels in (
        indices.astype(np.int8),
        indices.astype(np.uint16),
        np.eye(3)[indices],
        indices.astype(float),
    ):
        batch = as_source((_x(), labels), [X, INDEX], where="d").batch(slice(None))
        np.testing.assert_array_equal(batch["label"], expected)
        assert batch["label"].dtype == np.int64


def test_int64_class_labels_are_looked_up_by_value() -> None:
    batch = as_source((_x(3), np.array([30, 10, 20])), [X, INT_LABELS], where="d").batch(slice(None))
    np.testing.assert_array_equal(batch["label"], [2, 0, 1])
    with pytest.raises(
        DataError, match=r"'label'\[0\] = 1 is not a class label of this model; valid labels: 10"
    ):
        as_source((_x(3), np.array([1, 10, 20])), [X, INT_LABELS], where="d")


def test_missing_key_names_the_expected_keys() -> None:
    with pytest.raises(DataError, match=r"missing 'label'; expected keys: x, label \(got: features, x\)"):
        as_source({"x": _x(), "features": _x()}, FEATURES, where="training data")


def test_wrong_feature_shape_names_expected_and_got() -> None:
    with pytest.raises(DataError, match=r"'x' has per-example shape \(3,\), expected \(4,\)"):
        as_source({"x": np.zeros((5, 3)), "label": np.zeros(5, dtype=int)}, [X, INDEX], where="d")


def test_wrong_feature_dtype_names_expected_and_got() -> None:
    with pytest.raises(DataError, match=r"'x' has dtype int32, expected float32"):
        as_source(
            {"x": np.zeros((5, 4), dtype=np.int32), "label": np.zeros(5, dtype=int)}, [X, INDEX], where="d"
        )


def test_label_out_of_range_names_the_range() -> None:
    with pytest.raises(
        DataError, match=r"'label'\[3\] = 3 is out of range; class indices must be in \[0, 2\]"
    ):
        as_source({"x": _x(), "label": np.array([0, 1, 2, 3, -1])}, [X, INDEX], where="d")


def test_unknown_label_string_lists_valid_labels() -> None:
    with pytest.raises(DataError, match=r"'label'\[1\] = 'bird' is not a class label.*'cat', 'dog', 'fish'"):
        as_source({"x": _x(2), "label": np.array(["cat", "bird"])}, FEATURES, where="d")


def test_mismatched_lengths_are_refused() -> None:
    with pytest.raises(DataError, match=r"different numbers of examples: 'x' has 5, 'label' has 4"):
        as_source({"x": _x(), "label": np.zeros(4, dtype=int)}, [X, INDEX], where="d")


def test_soft_labels_are_refused_as_not_one_hot() -> None:
    soft = np.full((5, 3), 1 / 3)
    with pytest.raises(DataError, match=r"row 0 is not one-hot"):
        as_source((_x(), soft), [X, INDEX], where="d")


def test_npz_is_loaded_without_pickle_and_object_arrays_are_refused(tmp_path: Path) -> None:
    good = tmp_path / "good.npz"
    np.savez(good, x=_x(), label=np.array(["cat"] * 5))
    assert len(as_source(good, FEATURES, where="training data")) == 5
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=_x(), label=np.array(["cat", 1, None, 2.0, "dog"], dtype=object))
    with pytest.raises(DataError, match=r"array 'label' holds Python objects, which mlspec never unpickles"):
        as_source(bad, FEATURES, where="training data")


def test_not_an_npz_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "data.npz"
    path.write_bytes(b"not a zip")
    with pytest.raises(DataError, match=r"not an \.npz archive; write one with np\.savez") as refused:
        as_source(path, FEATURES, where="d")
    assert "pickle" not in str(refused.value)  # numpy's own message would suggest allow_pickle=True
    broken_zip = tmp_path / "broken.npz"
    np.savez(broken_zip, x=_x())
    broken_zip.write_bytes(broken_zip.read_bytes()[:-30])
    with pytest.raises(DataError, match=r"not a readable \.npz file"):
        as_source(broken_zip, FEATURES, where="d")
    single = tmp_path / "x.npy"
    np.save(single, _x())
    with pytest.raises(DataError, match=r"holds a single array, not an \.npz archive"):
        as_source(single, FEATURES, where="d")
    with pytest.raises(DataError, match="no such file"):
        as_source(tmp_path / "missing.npz", FEATURES, where="d")


class Recording:
    """A provider that records which examples it was asked for."""

    def __init__(self, count: int, broken: int | None = None) -> None:
        self.count = count
        self.broken = broken
        self.asked: list[int] = []

    def __len__(self) -> int:
        return self.count

    def example(self, index: int) -> Mapping[str, npt.ArrayLike]:
        self.asked.append(index)
        x = np.full(4, index, dtype=np.float32)
        if index == self.broken:
            x = np.zeros(5, dtype=np.float32)
        return {"x": x, "label": LABELS[index % 3]}


def test_provider_batches_are_stacked_in_the_requested_order() -> None:
    provider = Recording(6)
    source = as_source(provider, FEATURES, where="d")
    provider.asked.clear()
    batch = source.batch(np.array([4, 1, 3]))
    assert provider.asked == [4, 1, 3]
    np.testing.assert_array_equal(batch["x"][:, 0], [4, 1, 3])
    np.testing.assert_array_equal(batch["label"], [1, 1, 0])


def test_provider_bad_example_is_refused_naming_the_examples() -> None:
    source = as_source(Recording(6, broken=4), FEATURES, where="training data")
    with pytest.raises(DataError, match=r"training data \(example 4\): 'x' has per-example shape \(5,\)"):
        source.batch(slice(3, 5))


def test_provider_first_example_is_checked_up_front() -> None:
    with pytest.raises(DataError, match=r"example 0\): 'x' has per-example shape \(5,\)"):
        as_source(Recording(3, broken=0), FEATURES, where="d")
    with pytest.raises(DataError, match="holds no examples"):
        as_source(Recording(0), FEATURES, where="d")
