"""Weight surgery: widen or narrow a layer's outputs, class labels, and re-initialisation.

Widening keeps every existing weight bit for bit and appends rows (zero by default, as in the
Core ML personalisation recipe, or drawn from any initialiser); narrowing keeps the first rows.
The layers reading the resized tensor are fixed too, so the spec stays consistent:

- batch norm on the channel axis gains (gamma 1, beta 0, mean 0, variance 1) or loses entries
  and the change continues past it;
- a dense layer reading the resized axis as its last axis, or a convolution (groups 1) reading it
  as axis 1, gains zero input columns (so its outputs do not change) or loses the dropped ones;
- activation, dropout and softmax pass the change on, as do pooling and flatten when they keep
  the channel axis;
- anything else is refused, naming the layer, rather than guessed at.

When the change reaches the classifier's probabilities, the class labels follow: new classes get
the labels given or placeholders user0, user1, ... (the next integers for int labels), and
narrowing drops the trailing labels.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from mlspec._proto import layers_pb2, tensor_pb2
from mlspec.builder import description
from mlspec.builder.base import BuilderBase
from mlspec.builder.description import Labels
from mlspec.builder.initializers import InitLike, as_initializer, fans, layer_rng, normal
from mlspec.spec import graph, kinds, weights
from mlspec.spec.errors import SpecEditError, layer_ref
from mlspec.spec.shapes import TensorInfo
from mlspec.spec.windows import Convolution

PASS_THROUGH = ("activation", "dropout", "softmax")
NORMALISER_START = {"gamma": 1.0, "beta": 0.0, "running_mean": 0.0, "running_variance": 1.0}


class Surgery(BuilderBase):
    """The weight-surgery half of NetworkBuilder."""

    def widen(
        self,
        layer_name: str,
        new_outputs: int,
        *,
        init: InitLike = "zeros",
        seed: int | None = None,
        labels: Labels | None = None,
    ) -> None:
        """Grow a dense or convolution layer to `new_outputs` channels, old rows untouched."""
        with self._edit(f"widen {layer_ref(layer_name)} to {new_outputs}", validate=True):
            shapes = self._shapes()  # before any change, while every shape still fits
            layer, message, old = self._resizable(layer_name)
            if new_outputs <= old:
                raise SpecEditError(
                    f"{layer_ref(layer_name)}: widen to {new_outputs} needs more than {old}; use narrow"
                )
            extra = new_outputs - old
            initializer = as_initializer(init)
            rng = layer_rng(self._seed_for(seed), layer_name)
            full_shape = (new_outputs, *message.weights.shape[1:])
            fan_in, fan_out = fans(full_shape)
            new_rows = initializer.weights((extra, *full_shape[1:]), fan_in, fan_out, rng)
            _append_rows(message.weights, new_rows, axis=0)
            if message.has_bias:
                _append_rows(message.bias, initializer.bias((extra,), fan_in, rng), axis=0)
            message.output_channels = new_outputs
            self._resize_downstream(layer, old, new_outputs, labels, shapes)

    def narrow(self, layer_name: str, new_outputs: int) -> None:
        """Shrink a dense or convolution layer to its first `new_outputs` channels."""
        with self._edit(f"narrow {layer_ref(layer_name)} to {new_outputs}", validate=True):
            shapes = self._shapes()  # before any change, while every shape still fits
            layer, message, old = self._resizable(layer_name)
            if not 1 <= new_outputs < old:
                raise SpecEditError(f"{layer_ref(layer_name)}: narrow to {new_outputs} needs 1 to {old - 1}")
            _keep_rows(message.weights, new_outputs, axis=0)
            if message.has_bias:
                _keep_rows(message.bias, new_outputs, axis=0)
            message.output_channels = new_outputs
            self._resize_downstream(layer, old, new_outputs, None, shapes)

    def widen_classifier(
        self,
        num_classes: int,
        *,
        labels: Labels | None = None,
        init: InitLike = "zeros",
        seed: int | None = None,
    ) -> str:
        """Widen the layer that produces the classifier's logits; returns that layer's name."""
        name = self.classifier_layer()
        self.widen(name, num_classes, init=init, seed=seed, labels=labels)
        return name

    def classifier_layer(self) -> str:
        """The dense or convolution layer behind predicted_probabilities_name (through softmax etc.)."""
        if not self._model.HasField("classifier"):
            raise SpecEditError("the spec is not a classifier; it has no class probabilities")
        self._complete_description()
        producers = graph.producers(self._model)
        tensor = self._model.classifier.predicted_probabilities_name
        while (layer := producers.get(tensor)) is not None:
            if layer.WhichOneof("kind") in ("inner_product", "convolution"):
                return layer.name
            if layer.WhichOneof("kind") not in (*PASS_THROUGH, "flatten", "pooling"):
                break
            tensor = layer.inputs[0]
        raise SpecEditError(
            f'no dense or convolution layer found behind the probabilities "{tensor}"; widen a layer by name'
        )

    def reinit(self, layer_name: str, init: InitLike | None = None, *, seed: int | None = None) -> None:
        """Redraw a layer's weights (normalisers return to gamma 1, beta 0, mean 0, variance 1).

        `init` defaults to the kind's own default: kaiming_uniform for dense and convolution
        (the recipe's bounds), N(0, 1) for embeddings. Flags and storage dtype are kept.
        """
        with self._edit(f"reinit {layer_ref(layer_name)}", validate=True):
            layer = self._layer(layer_name)
            kind = kinds.kind_of(layer)
            rng = layer_rng(self._seed_for(seed), layer_name)
            message = kinds.kind_message(layer)
            trainable = kinds.KINDS[kind].trainable_fields
            if "weights" in trainable:
                default = normal() if kind == "embedding" else as_initializer("kaiming_uniform")
                chosen = default if init is None else as_initializer(init)
                shape = tuple(message.weights.shape)  # type: ignore[attr-defined]
                fan_in, fan_out = fans(shape)
                _store_like(message.weights, chosen.weights(shape, fan_in, fan_out, rng))  # type: ignore[attr-defined]
                if "bias" in trainable and message.has_bias:  # type: ignore[attr-defined]
                    _store_like(message.bias, chosen.bias((shape[0],), fan_in, rng))  # type: ignore[attr-defined]
            elif trainable:  # the normalisers: gamma and beta
                for field, tensor in kinds.layer_tensors(layer):
                    _store_like(tensor, np.full(tuple(tensor.shape), NORMALISER_START[field], np.float32))
            else:
                raise SpecEditError(
                    f"{layer_ref(layer_name)} ({kind}) has no weights to reinitialise; kinds that do: "
                    f"{', '.join(kinds.TRAINABLE_KINDS)}"
                )

    def _resizable(
        self, layer_name: str
    ) -> tuple[layers_pb2.Layer, layers_pb2.InnerProductLayer | layers_pb2.ConvolutionLayer, int]:
        layer = self._layer(layer_name)
        kind = kinds.kind_of(layer)
        if kind not in ("inner_product", "convolution"):
            raise SpecEditError(
                f"{layer_ref(layer_name)} ({kind}) cannot be resized; only dense (inner_product) and "
                "convolution can"
            )
        message = getattr(layer, kind)
        if kind == "convolution" and Convolution.of(layer.convolution).grouped:
            raise SpecEditError(
                f"{layer_ref(layer_name)} is a grouped convolution (groups={message.groups}); cannot resize"
            )
        return layer, message, int(message.output_channels)

    def _resize_downstream(
        self,
        layer: layers_pb2.Layer,
        old: int,
        new: int,
        labels: Labels | None,
        shapes: dict[str, TensorInfo],
    ) -> None:
        consumers = graph.consumers(self._model)
        rank = shapes[layer.outputs[0]].rank if layer.outputs[0] in shapes else None
        if rank is None:
            raise SpecEditError(
                f"{layer_ref(layer.name)}: the rank of its output is unknown; fix the spec first"
            )
        axis = rank - 1 if layer.WhichOneof("kind") == "inner_product" else 1
        pending = [(layer.outputs[0], axis)]
        while pending:
            tensor, axis = pending.pop()
            if (
                self._model.HasField("classifier")
                and tensor == self._model.classifier.predicted_probabilities_name
            ):
                self._resize_labels(old, new, labels)
            for consumer in consumers.get(tensor, []):
                follow = _resize_consumer(consumer, axis, old, new, shapes)
                if follow is not None:
                    pending.append((consumer.outputs[0], follow))

    def _resize_labels(self, old: int, new: int, labels: Labels | None) -> None:
        current = graph.class_labels(self._model)
        if len(current) != old:
            raise SpecEditError(
                f"the classifier has {len(current)} labels but {old} classes; fix the labels first"
            )
        if new < old:
            description.set_labels(self._model, current[:new])
            return
        added = list(labels) if labels is not None else description.placeholder_labels(current, new - old)
        if len(added) != new - old:
            raise SpecEditError(f"{new - old} new classes need {new - old} labels, got {len(added)}")
        description.set_labels(self._model, [*current, *added])


def _resize_consumer(
    consumer: layers_pb2.Layer, axis: int, old: int, new: int, shapes: dict[str, TensorInfo]
) -> int | None:
    """Fix one reader of the resized tensor; return the axis to follow on its output, or None."""
    kind = consumer.WhichOneof("kind")
    where = layer_ref(consumer.name)
    info = shapes.get(consumer.inputs[0])
    rank = None if info is None else info.rank
    if kind in PASS_THROUGH or (kind == "pooling" and axis == 1):
        return axis
    if kind == "flatten" and axis < max(consumer.flatten.axis, 1):
        return axis
    if kind == "batch_norm" and axis == 1:
        norm = consumer.batch_norm
        for field, tensor in kinds.layer_tensors(consumer):
            _resize_vector(tensor, new, NORMALISER_START[field])
        norm.channels = new
        return axis
    if kind == "inner_product" and rank is not None and axis == rank - 1:
        _resize_columns(consumer.inner_product.weights, old, new)
        consumer.inner_product.input_channels = new
        return None
    if kind == "convolution" and axis == 1 and not Convolution.of(consumer.convolution).grouped:
        _resize_columns(consumer.convolution.weights, old, new)
        consumer.convolution.input_channels = new
        return None
    raise SpecEditError(
        f"{where} ({kind}) reads the resized tensor along axis {axis}; mlspec cannot resize it safely. "
        "Remove or replace that layer first"
    )


def _append_rows(tensor: tensor_pb2.Tensor, rows: npt.NDArray[np.float32], axis: int) -> None:
    old = weights.to_numpy(tensor)
    weights.set_tensor(tensor, np.concatenate([old, rows.astype(old.dtype)], axis=axis))


def _keep_rows(tensor: tensor_pb2.Tensor, count: int, axis: int) -> None:
    old = weights.to_numpy(tensor)
    weights.set_tensor(tensor, np.take(old, np.arange(count), axis=axis))


def _resize_vector(tensor: tensor_pb2.Tensor, new: int, fill_value: float) -> None:
    old = weights.to_numpy(tensor)
    if new <= old.shape[0]:
        _keep_rows(tensor, new, axis=0)
    else:
        _append_rows(tensor, np.full((new - old.shape[0],), fill_value, np.float32), axis=0)


def _resize_columns(tensor: tensor_pb2.Tensor, old: int, new: int) -> None:
    """Input axis 1 of a dense or convolution weight: zero columns in, or trailing ones out."""
    if new < old:
        _keep_rows(tensor, new, axis=1)
        return
    shape = list(tensor.shape)
    shape[1] = new - old
    _append_rows(tensor, np.zeros(shape, np.float32), axis=1)


def _store_like(tensor: tensor_pb2.Tensor, values: npt.NDArray[np.float32]) -> None:
    """Replace values keeping the tensor's storage dtype (float16 stays float16)."""
    dtype = weights.numpy_dtype(tensor.dtype) if tensor.dtype else np.dtype(np.float32)
    weights.set_tensor(tensor, values.astype(dtype))
