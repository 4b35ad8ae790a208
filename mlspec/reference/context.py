"""What a reference layer function may read: its layer, weights (with overrides) and the run mode.

One object instead of loose arguments, so that every layer function has the same signature and
the dispatcher stays a plain table.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from google.protobuf.message import Message

from mlspec._proto import layers_pb2
from mlspec.spec.errors import MlspecError, layer_ref
from mlspec.spec.kinds import kind_message
from mlspec.spec.weights import to_numpy

Array = npt.NDArray[Any]


@dataclass
class LayerContext:
    layer: layers_pb2.Layer
    dtype: np.dtype[Any]
    training: bool
    overrides: Mapping[str, npt.ArrayLike]
    dropout_masks: Mapping[str, npt.ArrayLike]
    # Values a layer computes besides its outputs, such as updated batch-norm running statistics.
    side_outputs: dict[str, Array] = field(default_factory=dict)

    @property
    def where(self) -> str:
        return layer_ref(self.layer.name)

    @property
    def message(self) -> Message:
        return kind_message(self.layer)

    def has_weight(self, field_name: str) -> bool:
        return f"{self.layer.name}.{field_name}" in self.overrides or self.message.HasField(field_name)

    def weight(self, field_name: str) -> Array:
        """The tensor `{layer}.{field}` in the run's float dtype, an override winning over the spec."""
        name = f"{self.layer.name}.{field_name}"
        if name in self.overrides:
            return np.asarray(self.overrides[name], dtype=self.dtype)
        if not self.message.HasField(field_name):
            raise MlspecError(f"{self.where}.{field_name}: missing; the layer needs this tensor")
        return to_numpy(getattr(self.message, field_name), f"{self.where}.{field_name}").astype(self.dtype)

    def as_float(self, value: Array) -> Array:
        return np.asarray(value, dtype=self.dtype)


LayerFunction = Callable[[LayerContext, list[Array]], list[Array]]
"""A kind's numpy formula: the layer's outputs from its inputs. Each family module lists its own
in a `FUNCTIONS` table that mlspec.reference.evaluate merges."""
