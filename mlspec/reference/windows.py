"""Window geometry shared by convolution and pooling: resolved padding and the taps of a kernel.

Both kinds slide a kernel over the spatial axes; writing the geometry once keeps their padding
rules (valid, same upper/lower, explicit) identical, as they are in the spec.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import product

from mlspec._proto import layers_pb2
from mlspec.spec.errors import MlspecError

Pads = list[tuple[int, int]]


@dataclass(frozen=True)
class Window:
    kernel: Sequence[int]
    strides: Sequence[int]
    dilations: Sequence[int]

    @classmethod
    def of(cls, kernel: Sequence[int], strides: Sequence[int], dilations: Sequence[int] = ()) -> Window:
        """Fill the spec's defaults: an empty strides or dilations list means 1 on every axis."""
        ones = [1] * len(kernel)
        return cls(
            [int(k) for k in kernel], [int(s) for s in strides] or ones, [int(d) for d in dilations] or ones
        )


def resolve_pads(padding: layers_pb2.Padding, sizes: Sequence[int], window: Window, where: str) -> Pads:
    """(begin, end) padding per spatial axis; same padding keeps ceil(size / stride) outputs."""
    rank = len(window.kernel)
    kind = padding.WhichOneof("kind")
    if kind in (None, "valid"):
        return [(0, 0)] * rank
    if kind == "explicit":
        pads = [int(p) for p in padding.explicit.pads]
        if len(pads) != 2 * rank:
            raise MlspecError(
                f"{where}.padding.explicit.pads: {len(pads)} values, expected {2 * rank} "
                "(the begin paddings of every spatial axis, then the end paddings)"
            )
        return list(zip(pads[:rank], pads[rank:], strict=True))
    result: Pads = []
    for size, k, s, d in zip(sizes, window.kernel, window.strides, window.dilations, strict=True):
        outputs = -(-size // s)
        total = max((outputs - 1) * s + (k - 1) * d + 1 - size, 0)
        smaller, larger = total // 2, total - total // 2
        result.append((larger, smaller) if padding.same.lower else (smaller, larger))
    return result


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
