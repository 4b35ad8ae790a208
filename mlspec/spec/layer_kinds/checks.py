"""Attribute checks shared by several kinds: positive sizes, known enum values, window attributes.

They need no knowledge of the inputs, so they run even when input shapes are unknown (after an
imported ONNX node without declared output types, say). Windows are checked as decoded by
mlspec.spec.windows, the same values every other reader uses.
"""

from __future__ import annotations

from collections.abc import Sequence

from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

from mlspec.spec.errors import ShapeError
from mlspec.spec.windows import Pads, Window


def positive(value: int, field: str, what: str) -> None:
    if value <= 0:
        name = field.lstrip(".")
        raise ShapeError(f"{name} is {value}; {what} must be > 0", f"set {name} to a positive size", field)


def named(value: int, kinds: EnumTypeWrapper, what: str) -> None:
    """An enum value convert knows: neither *_UNSPECIFIED nor a number no value names (proto3
    keeps unknown numbers, and the spec fuzzer found activation types 12..24 validating)."""
    known = kinds.DESCRIPTOR.values_by_number.get(value)
    if known is not None and not known.name.endswith("_UNSPECIFIED"):
        return
    names = [v.name for v in kinds.DESCRIPTOR.values if not v.name.endswith("_UNSPECIFIED")]
    state = "is unset" if known is not None else f"{value} is not one of the {what} types"
    raise ShapeError(f"{what} type {state}", f"set type to one of {', '.join(names)}", ".type")


def kernel(window: Window) -> None:
    """A 1-D or 2-D window; the rank of convolution and pooling follows from it."""
    sizes = window.kernel
    if len(sizes) not in (1, 2):
        raise ShapeError(
            f"kernel_shape has {len(sizes)} entries; give 1 (1-D) or 2 (2-D)",
            "set kernel_shape to [k] or [kh, kw]",
            ".kernel_shape",
        )
    if any(k <= 0 for k in sizes):
        raise ShapeError(f"kernel_shape {list(sizes)} has a value <= 0", "use sizes >= 1", ".kernel_shape")


def per_axis(values: Sequence[int], rank: int, field: str) -> None:
    """Strides or dilations as decoded (an empty list already read as 1 on every axis)."""
    if len(values) != rank:
        raise ShapeError(
            f"{field.lstrip('.')} has {len(values)} entries for {rank} spatial axes",
            f"give one value per spatial axis ({rank}) or none for 1",
            field,
        )
    if any(v <= 0 for v in values):
        raise ShapeError(f"{field.lstrip('.')} {list(values)} has a value <= 0", "use values >= 1", field)


def pads(window: Window) -> Pads | None:
    """The window's fixed pads (None for same padding), refusing negative explicit ones."""
    fixed = window.fixed_pads()
    if fixed is not None and any(p < 0 for p in window.explicit):
        message = f"explicit pads {list(window.explicit)} has a negative value"
        raise ShapeError(message, "use pads >= 0", ".padding.explicit.pads")
    return fixed
