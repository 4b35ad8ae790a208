"""What a layer kind declares: its tensors, its attribute checks, its shape rule, its weight shapes.

Each family module (dense, conv, norm, ...) declares its kinds as `KindInfo` values with every
spec-level fact in one place, so a new kind is one declaration rather than an entry in four
tables that could drift apart. A kind that holds tensors must say what shapes they take
(`weights`): `KindInfo` refuses the declaration otherwise, so weight checks cannot be skipped
by omission.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from mlspec._proto import layers_pb2
from mlspec.spec.tensor_info import TensorInfo

Check = Callable[[layers_pb2.Layer], None]
"""Raise ShapeError for an attribute that cannot be right for any input (kernel rank, unset type)."""

Rule = Callable[[layers_pb2.Layer, list[TensorInfo]], TensorInfo | list[TensorInfo]]
"""The output info from the inputs' infos (known ranks), or ShapeError naming the field at fault;
a list for a kind that may have several outputs."""

Numeric = list[tuple[str, float, bool, str, str]]
"""Field, value, whether it is allowed, the rule, and the fix in words."""

Numbers = Callable[[layers_pb2.Layer], Numeric]
"""Numeric attributes that do not affect shapes (rates, epsilons), so the shape rule leaves them alone."""

Expected = dict[str, tuple[tuple[int, ...], str]]
"""Tensor field -> (expected shape, layout named in the fix)."""

Weights = Callable[[layers_pb2.Layer], tuple[Expected, tuple[str, ...]]]
"""Expected shapes of the required tensors, and the fields that must be absent (bias without has_bias)."""


def no_attributes(layer: layers_pb2.Layer) -> None:
    """The kind has no attribute that is wrong for every input; its shape rule judges the rest."""


def no_numbers(layer: layers_pb2.Layer) -> Numeric:
    return []


@dataclass(frozen=True, kw_only=True)
class KindInfo:
    """Everything the spec layer knows about one kind; validation, the builder and the converter ask here."""

    name: str
    shape: Rule
    check: Check = no_attributes
    numbers: Numbers = no_numbers
    # Required exactly when the kind holds tensors (checked in __post_init__).
    weights: Weights | None = None
    # Tensor fields of the kind's message, in a stable order.
    tensor_fields: tuple[str, ...] = ()
    # Tensor fields that training may update (empty: the kind cannot be trained).
    trainable_fields: tuple[str, ...] = ()
    # Whether gradients flow from the layer's outputs to its inputs.
    passes_gradient: bool = True
    min_inputs: int = 1
    max_inputs: int | None = 1

    def __post_init__(self) -> None:
        if bool(self.tensor_fields) != (self.weights is not None):
            state = "holds tensors but declares no" if self.tensor_fields else "holds no tensors but declares"
            raise TypeError(f"layer kind {self.name}: {state} weights= (expected tensor shapes)")
        stray = sorted(set(self.trainable_fields) - set(self.tensor_fields))
        if stray:
            raise TypeError(f"layer kind {self.name}: trainable fields {stray} are not tensor fields")

    @property
    def trainable(self) -> bool:
        return bool(self.trainable_fields)
