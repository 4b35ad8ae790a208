"""The decoded window attributes: proto3 defaults read once, same padding resolved once."""

from __future__ import annotations

import itertools

import pytest

from mlspec._proto import layers_pb2
from mlspec.spec.errors import MlspecError, ShapeError
from mlspec.spec.windows import Convolution, Window, pooling_window, same_pads


def test_unset_fields_read_as_their_documented_defaults() -> None:
    spec = layers_pb2.ConvolutionLayer(input_channels=4, output_channels=6, kernel_shape=[3, 2])
    conv = Convolution.of(spec)
    assert conv.groups == 1 and not conv.grouped
    assert conv.window.strides == (1, 1) and conv.window.dilations == (1, 1)
    assert conv.window.padding == "valid" and conv.window.pads([None, None]) == ((0, 0), (0, 0))
    pool = pooling_window(layers_pb2.PoolingLayer(kernel_shape=[2], strides=[2]))
    assert pool.strides == (2,) and pool.dilations == (1,)


@pytest.mark.parametrize(
    ("size", "kernel", "stride", "dilation"), itertools.product(range(1, 9), (1, 2, 3), (1, 2, 3), (1, 2))
)
def test_same_padding_keeps_ceil_size_over_stride_outputs(
    size: int, kernel: int, stride: int, dilation: int
) -> None:
    """Written out from ONNX's SAME_UPPER/SAME_LOWER: out = ceil(n / s), the odd cell at the end/start."""
    (upper,) = same_pads([size], [kernel], [stride], [dilation], lower=False)
    (lower,) = same_pads([size], [kernel], [stride], [dilation], lower=True)
    span = (kernel - 1) * dilation + 1
    padded = size + sum(upper)
    assert (padded - span) // stride + 1 == -(-size // stride)
    assert upper[1] - upper[0] in (0, 1) and lower == (upper[1], upper[0])
    assert min(upper) >= 0 and sum(upper) <= max(span - 1, 0)


def test_stride_one_same_padding_needs_no_sizes_and_larger_strides_do() -> None:
    padding = layers_pb2.Padding(same=layers_pb2.SamePadding(lower=True))
    window = Window.of([3, 4], [], [2, 1], padding)
    assert window.pads(["height", None]) == ((2, 2), (2, 1))
    strided = Window.of([3, 3], [2, 2], [], padding)
    assert strided.pads(["height", 8]) is None
    assert strided.pads([7, 8]) == same_pads([7, 8], [3, 3], [2, 2], [1, 1], lower=True)


def test_explicit_pads_of_the_wrong_length_name_the_field() -> None:
    padding = layers_pb2.Padding(explicit=layers_pb2.ExplicitPadding(pads=[1, 2, 3]))
    window = Window.of([3, 3], [], [], padding)
    with pytest.raises(ShapeError, match="explicit pads has 3 entries; 2 spatial axes need 4") as caught:
        window.pads([8, 8])
    error: MlspecError = caught.value.at('layers["c"]')
    assert isinstance(error, MlspecError)
    assert error.where == 'layers["c"].padding.explicit.pads' and error.fix == "give 4 pads"
    ok = Window.of([3, 3], [], [], layers_pb2.Padding(explicit=layers_pb2.ExplicitPadding(pads=[1, 2, 3, 4])))
    assert ok.pads([8, 8]) == ((1, 3), (2, 4))
