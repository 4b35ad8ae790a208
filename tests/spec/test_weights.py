"""Weights helpers: zero-copy read-only views, dtype round trips, and refusal of bad byte counts."""

from __future__ import annotations

import numpy as np
import pytest

from mlspec import MlspecError
from mlspec._proto import tensor_pb2
from mlspec.spec.weights import NUMPY_DTYPES, make_tensor, set_tensor, to_float32, to_numpy


@pytest.mark.parametrize("code", list(NUMPY_DTYPES))
def test_dtype_round_trip(code: int) -> None:
    dtype = NUMPY_DTYPES[code]
    values = (np.arange(24).reshape(2, 3, 4) - 7).astype(dtype)
    tensor = make_tensor(values)
    assert tensor.dtype == code and list(tensor.shape) == [2, 3, 4]
    back = to_numpy(tensor)
    assert back.dtype == dtype and np.array_equal(back, values)


def test_big_endian_input_is_stored_little_endian() -> None:
    values = np.array([1.5, -2.25, 3.0], dtype=">f4")
    tensor = make_tensor(values)
    assert tensor.raw_data == values.astype("<f4").tobytes()
    assert np.array_equal(to_numpy(tensor), values)


def test_view_is_zero_copy_and_read_only() -> None:
    values = np.random.default_rng(0).standard_normal((64, 32)).astype(np.float32)
    tensor = make_tensor(values)
    view = to_numpy(tensor)
    assert not view.flags.writeable
    assert not view.flags.owndata
    root = view
    while isinstance(root.base, np.ndarray):
        root = root.base
    assert isinstance(root.base, bytes) and len(root.base) == values.nbytes  # a view over the field's bytes
    with pytest.raises(ValueError, match="read-only"):
        view[0, 0] = 1.0


def test_to_float32_copies_only_when_it_must() -> None:
    as32 = make_tensor(np.ones((3,), np.float32))
    assert not to_float32(as32).flags.owndata
    as16 = make_tensor(np.array([0.5, 1.0], np.float16))
    converted = to_float32(as16)
    assert converted.dtype == np.float32 and np.array_equal(converted, [0.5, 1.0])


def test_partial_values_are_refused() -> None:
    tensor = make_tensor(np.ones((2, 2), np.float32))
    tensor.raw_data = tensor.raw_data[:-1]
    with pytest.raises(MlspecError, match="not a whole number"):
        to_numpy(tensor, 'layers["fc"].weights')


def test_count_disagreeing_with_shape_is_refused() -> None:
    tensor = make_tensor(np.ones((2, 2), np.float32))
    tensor.shape.append(2)
    with pytest.raises(MlspecError, match=r'layers\["fc"\].weights: 4 values, expected 2 x 2 x 2 = 8'):
        to_numpy(tensor, 'layers["fc"].weights')


def test_unsupported_dtypes_are_refused() -> None:
    with pytest.raises(MlspecError, match="uint16"):
        make_tensor(np.ones(3, np.uint16))
    with pytest.raises(MlspecError, match="DATA_TYPE_UNSPECIFIED"):
        to_numpy(tensor_pb2.Tensor(shape=[1], raw_data=b"\x00" * 4))


def test_set_tensor_keeps_the_flag_unless_told() -> None:
    tensor = make_tensor(np.zeros(2, np.float32), is_updatable=True)
    set_tensor(tensor, np.ones(3, np.float32))
    assert tensor.is_updatable and list(tensor.shape) == [3]
    set_tensor(tensor, np.ones(3, np.float32), is_updatable=False)
    assert not tensor.is_updatable
