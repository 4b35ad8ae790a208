"""Specs for the converter's forward and graph tests, written in raw protobuf.

Independent of the builder, so that the yardstick cannot move with it. `layer()` sets any
field of a kind's message by name: arrays become weight tensors, lists fill repeated fields,
messages are copied.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from google.protobuf.message import Message

from mlspec._proto import layers_pb2, model_pb2, tensor_pb2
from mlspec.spec.tensor_info import set_dims
from mlspec.spec.weights import set_tensor
from tests.spec.factories import tensor_feature

Dims = Sequence[int | str]


def layer(
    kind: str,
    name: str,
    inputs: Sequence[str],
    *,
    outputs: Sequence[str] | None = None,
    updatable: bool = False,
    **fields: Any,
) -> layers_pb2.Layer:
    """One layer; float arrays are stored as weights flagged updatable when the layer is."""
    built = layers_pb2.Layer(name=name, inputs=list(inputs), outputs=list(outputs or [name]))
    built.is_updatable = updatable
    message = getattr(built, kind)
    message.SetInParent()
    for key, value in fields.items():
        if isinstance(value, np.ndarray):
            set_tensor(getattr(message, key), value, is_updatable=updatable)
        elif isinstance(value, Message):
            getattr(message, key).CopyFrom(value)
        elif isinstance(value, (list, tuple)):
            getattr(message, key).extend(value)
        else:
            setattr(message, key, value)
    return built


def padding(kind: str, *, pads: Sequence[int] = (), lower: bool = False) -> layers_pb2.Padding:
    """kind: valid, same or explicit."""
    made = layers_pb2.Padding()
    if kind == "explicit":
        made.explicit.pads.extend(pads)
    elif kind == "same":
        made.same.lower = lower
    else:
        made.valid.SetInParent()
    return made


def network(
    inputs: Mapping[str, Dims],
    layers: Sequence[layers_pb2.Layer],
    outputs: Sequence[str] | None = None,
    *,
    dtypes: Mapping[str, int] | None = None,
) -> model_pb2.Model:
    """A model whose outputs default to the last layer's; inputs are float32 unless `dtypes` says."""
    model = model_pb2.Model(spec_version=1)
    model.metadata.name = "forward_test"
    for name, dims in inputs.items():
        dtype = (dtypes or {}).get(name, tensor_pb2.FLOAT32)
        model.description.inputs.append(tensor_feature(name, dims, dtype))
    model.network.layers.extend(layers)
    for name in outputs if outputs is not None else layers[-1].outputs:
        model.description.outputs.append(tensor_feature(name, ()))
    return model


def add_loss(model: model_pb2.Model, tensor: str, dims: Dims) -> None:
    """An MSE loss on `tensor` against a training input "<tensor>_target"; marks the model updatable."""
    model.is_updatable = True
    model.description.training_inputs.append(tensor_feature(f"{tensor}_target", dims))
    target = f"{tensor}_target"
    loss = model.update_parameters.loss_layers.add(name=f"{tensor}_mse", input=tensor, target=target)
    loss.mean_squared_error.SetInParent()


def tensor_type(dims: Dims, dtype: int = tensor_pb2.FLOAT32) -> tensor_pb2.TensorType:
    made = tensor_pb2.TensorType(dtype=dtype)  # type: ignore[arg-type]
    set_dims(made, dims)
    return made
