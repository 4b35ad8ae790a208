"""Turning user-supplied weights into spec tensors, and drawing them from initialisers.

Weights keep float16 when given as float16 (a spec may hold half-precision frozen layers); any
other float input is stored as float32, the dtype training needs.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from mlspec._proto import tensor_pb2
from mlspec.builder.initializers import InitLike, as_initializer, fans, layer_rng
from mlspec.spec import weights
from mlspec.spec.errors import SpecEditError, layer_ref


def stored_array(values: npt.ArrayLike, expected: tuple[int, ...], where: str) -> npt.NDArray[np.generic]:
    array = np.asarray(values)
    if array.dtype != np.float16:
        array = array.astype(np.float32)
    if array.shape != expected:
        shown = " x ".join(str(d) for d in expected) or "scalar"
        raise SpecEditError(f"{where}: got shape {list(array.shape)}, expected {shown}")
    return array


def fill(tensor: tensor_pb2.Tensor, values: npt.ArrayLike, expected: tuple[int, ...], where: str) -> None:
    weights.set_tensor(tensor, stored_array(values, expected, where))


def fill_weights_and_bias(
    message: tensor_pb2.Tensor,
    bias: tensor_pb2.Tensor | None,
    shape: tuple[int, ...],
    *,
    given_weights: npt.ArrayLike | None,
    given_bias: npt.ArrayLike | None,
    init: InitLike,
    seed: int,
    layer_name: str,
) -> None:
    """Store given arrays, or draw the missing ones from `init` with the layer's own generator."""
    initializer = as_initializer(init)
    rng = layer_rng(seed, layer_name)
    fan_in, fan_out = fans(shape)
    where = layer_ref(layer_name)
    if given_weights is None:
        weights.set_tensor(message, initializer.weights(shape, fan_in, fan_out, rng))
    else:
        fill(message, given_weights, shape, f"{where}.weights")
    if bias is None:
        if given_bias is not None:
            raise SpecEditError(f"{where}: bias given but has_bias is False")
        return
    if given_bias is None:
        weights.set_tensor(bias, initializer.bias((shape[0],), fan_in, rng))
    else:
        fill(bias, given_bias, (shape[0],), f"{where}.bias")
