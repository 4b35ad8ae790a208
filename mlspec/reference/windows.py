"""Window geometry shared by convolution and pooling: resolved padding and the taps of a kernel.

Both kinds slide a kernel over the spatial axes. The attributes come decoded from
mlspec.spec.windows (the one place that reads the spec's defaults and resolves same padding);
how the windows are then walked, tap by tap, is the reference's own arithmetic.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from itertools import product

from mlspec.spec.errors import MlspecError, ShapeError
from mlspec.spec.windows import Pads, Window


def resolved_pads(window: Window, sizes: Sequence[int], where: str) -> Pads:
    """(begin, end) padding per spatial axis for an input of these (known) sizes."""
    try:
        pads = window.pads(sizes)
    except ShapeError as error:
        raise error.at(where) from None
    assert pads is not None  # every size is known here, so same padding always resolves
    return pads


def taps(padded_sizes: Sequence[int], window: Window) -> Iterator[tuple[tuple[int, ...], tuple[slice, ...]]]:
    """For each kernel offset, the strided slices of the padded input it meets in every window.

    Looping over the (few) kernel offsets and slicing all windows at once keeps the reference
    vectorised without hiding the arithmetic in stride tricks.
    """
    kernel, strides, dilations = window.kernel, window.strides, window.dilations
    outputs = [
        (n - d * (k - 1) - 1) // s + 1
        for n, k, s, d in zip(padded_sizes, kernel, strides, dilations, strict=True)
    ]
    if any(count <= 0 for count in outputs):
        raise MlspecError(f"kernel {list(kernel)} does not fit the padded input {list(padded_sizes)}")
    for offset in product(*(range(k) for k in kernel)):
        yield (
            offset,
            tuple(
                slice(o * d, o * d + s * (count - 1) + 1, s)
                for o, d, s, count in zip(offset, dilations, strides, outputs, strict=True)
            ),
        )
