"""Convolution and pooling attributes decoded once, so proto3's zero defaults are read in one place.

The spec stores what was written: empty strides or dilations mean 1 on every spatial axis, groups 0
means 1, and a padding with no kind set is valid padding. Every reader (attribute checks, shape
rules, weight expectations, the reference, the emitters, the Core ML exporter, the builder) takes
a decoded `Window` or `Convolution` instead of restating a default, and same padding is resolved
to explicit (begin, end) amounts by `same_pads` alone.

Decoding never fails; what may be wrong with the values (a kernel of rank 3, two strides for one
axis) is judged by the attribute checks (mlspec.spec.layer_kinds) on the decoded window. The one
thing a reader may hit before validation ran is an explicit pad list of the wrong length, which
`Window.pads` reports as a ShapeError naming the field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from mlspec._proto import layers_pb2
from mlspec.spec.errors import ShapeError
from mlspec.spec.tensor_info import Dim

Pads = tuple[tuple[int, int], ...]
"""(begin, end) padding of each spatial axis."""

PaddingKind = Literal["valid", "same", "explicit"]


def same_pads(
    sizes: Sequence[int],
    kernel: Sequence[int],
    strides: Sequence[int],
    dilations: Sequence[int],
    *,
    lower: bool,
) -> Pads:
    """Padding that keeps ceil(size / stride) outputs.

    An odd total puts the extra cell at the end (SAME_UPPER) or, with `lower`, at the beginning
    (SAME_LOWER), as ONNX does.
    """
    result: list[tuple[int, int]] = []
    for size, k, s, d in zip(sizes, kernel, strides, dilations, strict=True):
        outputs = -(-size // s)
        total = max((outputs - 1) * s + (k - 1) * d + 1 - size, 0)
        smaller, larger = total // 2, total - total // 2
        result.append((larger, smaller) if lower else (smaller, larger))
    return tuple(result)


@dataclass(frozen=True)
class Window:
    """The sliding window of a convolution or windowed pooling, every default filled in."""

    kernel: tuple[int, ...]
    strides: tuple[int, ...]
    dilations: tuple[int, ...]
    padding: PaddingKind
    same_lower: bool = False
    explicit: tuple[int, ...] = ()
    """Explicit pads as written: the begin paddings of every spatial axis, then the end paddings."""

    @classmethod
    def of(
        cls,
        kernel: Sequence[int],
        strides: Sequence[int],
        dilations: Sequence[int],
        padding: layers_pb2.Padding,
    ) -> Window:
        ones = (1,) * len(kernel)
        kind = padding.WhichOneof("kind")
        return cls(
            kernel=tuple(int(k) for k in kernel),
            strides=tuple(int(s) for s in strides) or ones,
            dilations=tuple(int(d) for d in dilations) or ones,
            padding="same" if kind == "same" else "explicit" if kind == "explicit" else "valid",
            same_lower=padding.same.lower,
            explicit=tuple(int(p) for p in padding.explicit.pads),
        )

    @property
    def rank(self) -> int:
        """1 or 2 spatial axes (once checked); it follows from the kernel."""
        return len(self.kernel)

    def fixed_pads(self) -> Pads | None:
        """Valid or explicit padding per axis; None for same padding, which depends on the sizes."""
        if self.padding == "same":
            return None
        if self.padding == "valid":
            return ((0, 0),) * self.rank
        if len(self.explicit) != 2 * self.rank:
            raise ShapeError(
                f"explicit pads has {len(self.explicit)} entries; {self.rank} spatial axes need "
                f"{2 * self.rank} (all begins, then all ends)",
                f"give {2 * self.rank} pads",
                ".padding.explicit.pads",
            )
        return tuple(zip(self.explicit[: self.rank], self.explicit[self.rank :], strict=True))

    def pads(self, sizes: Sequence[Dim]) -> Pads | None:
        """(begin, end) per axis for an input of these spatial sizes.

        None only for same padding that depends on sizes not known yet (a stride above 1 over a
        symbolic size); with stride 1 everywhere same padding is (kernel span - 1) whatever the size.
        """
        fixed = self.fixed_pads()
        if fixed is not None:
            return fixed
        if all(s == 1 for s in self.strides):
            sizes = self.kernel  # with stride 1 the total is (k - 1) * d whatever the size
        known = [n for n in sizes if isinstance(n, int)]
        if len(known) != self.rank:
            return None
        return same_pads(known, self.kernel, self.strides, self.dilations, lower=self.same_lower)


@dataclass(frozen=True)
class Convolution:
    """A convolution layer's attributes; groups 0 (unset) reads as 1."""

    window: Window
    input_channels: int
    output_channels: int
    groups: int
    has_bias: bool

    @classmethod
    def of(cls, spec: layers_pb2.ConvolutionLayer) -> Convolution:
        return cls(
            window=Window.of(spec.kernel_shape, spec.strides, spec.dilations, spec.padding),
            input_channels=int(spec.input_channels),
            output_channels=int(spec.output_channels),
            groups=int(spec.groups) or 1,
            has_bias=spec.has_bias,
        )

    @property
    def grouped(self) -> bool:
        return self.groups > 1


def pooling_window(spec: layers_pb2.PoolingLayer) -> Window:
    """The window of windowed pooling (global pooling has none); pooling has no dilations."""
    return Window.of(spec.kernel_shape, spec.strides, (), spec.padding)
