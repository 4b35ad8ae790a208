"""Graph surgery: insert, remove, replace and rename layers, rewiring what reads them.

New layers are described exactly as for ``add_*`` (``kind`` picks the method, keyword
arguments pass through), so there is one way to describe a layer. Tensor names the outside
world sees (model outputs, classifier names, loss inputs) are kept stable where possible:

- ``insert_after(anchor, ...)`` gives the anchor a fresh output and lets the new layer produce
  the anchor's old output name, so every reader (layers, outputs, losses) now reads the new
  layer;
- ``insert_before(layer, ...)`` feeds one input of `layer` through the new layer;
- ``remove_layer`` joins the removed layer's input to its readers; when its output is a model
  output or loss input, the upstream layer takes over that name instead;
- ``replace_layer`` puts a new layer at the same place with the same inputs and output (the
  replacement starts frozen; call make_updatable again if it should train);
- ``rename_layer`` also renames an output tensor that carries the layer's name, everywhere it is
  referenced; ``rename_tensor`` renames any tensor, model inputs included.
"""

from __future__ import annotations

from typing import Any

from mlspec._proto import layers_pb2
from mlspec.builder.base import BuilderBase
from mlspec.spec import graph, kinds
from mlspec.spec.errors import SpecEditError, layer_ref

MULTI_INPUT_KINDS = tuple(name for name, info in kinds.KINDS.items() if info.max_inputs != 1)


class Rewiring(BuilderBase):
    """The graph-surgery half of NetworkBuilder."""

    def _adder(self, kind: str) -> Any:
        if kind not in kinds.KINDS:
            raise SpecEditError(f"unknown layer kind {kind!r}; use one of {kinds.supported_kinds()}")
        return getattr(self, f"add_{kind}")

    def _move_last_to(self, index: int) -> None:
        layers = self._model.network.layers
        moved = layers_pb2.Layer()
        moved.CopyFrom(layers[-1])
        del layers[-1]
        layers.insert(index, moved)

    def _fresh_tensor(self, stem: str) -> str:
        taken = self._known_tensors() | set(graph.training_input_names(self._model))
        candidate, index = stem, 1
        while candidate in taken:
            index += 1
            candidate = f"{stem}_{index}"
        return candidate

    def insert_after(self, anchor: str, kind: str, name: str, **params: Any) -> None:
        """Insert a single-input layer reading `anchor`'s output, in front of all its readers."""
        with self._edit(f"insert {layer_ref(name)} after {layer_ref(anchor)}", validate=True):
            if kind in MULTI_INPUT_KINDS:
                raise SpecEditError(f"insert_after takes single-input kinds; {kind} reads several inputs")
            layer = self._layer(anchor)
            if len(layer.outputs) != 1:
                raise SpecEditError(
                    f"{layer_ref(anchor)} has {len(layer.outputs)} outputs; insert before a reader instead"
                )
            original = layer.outputs[0]
            fresh = self._fresh_tensor(f"{anchor}_output")
            layer.outputs[0] = fresh
            self._adder(kind)(name, fresh, output=original, **params)
            self._move_last_to(graph.layer_index(self._model, anchor) + 1)

    def insert_before(
        self, target: str, kind: str, name: str, *, input_index: int = 0, **params: Any
    ) -> None:
        """Route input `input_index` of `target` through a new single-input layer."""
        with self._edit(f"insert {layer_ref(name)} before {layer_ref(target)}", validate=True):
            if kind in MULTI_INPUT_KINDS:
                raise SpecEditError(f"insert_before takes single-input kinds; {kind} reads several inputs")
            layer = self._layer(target)
            if not 0 <= input_index < len(layer.inputs):
                raise SpecEditError(
                    f"{layer_ref(target)} has no input {input_index}; it has {len(layer.inputs)}"
                )
            fresh = self._fresh_tensor(name)
            self._adder(kind)(name, layer.inputs[input_index], output=fresh, **params)
            self._move_last_to(graph.layer_index(self._model, target))
            self._layer(target).inputs[input_index] = fresh

    def remove_layer(self, name: str) -> None:
        """Remove a one-input, one-output layer and join its input to its readers."""
        with self._edit(f"remove {layer_ref(name)}", validate=True):
            layer = self._layer(name)
            if len(layer.inputs) != 1 or len(layer.outputs) != 1:
                raise SpecEditError(
                    f"{layer_ref(name)} has {len(layer.inputs)} inputs and {len(layer.outputs)} outputs; "
                    "only a one-input, one-output layer can be removed (replace the others)"
                )
            source, output = layer.inputs[0], layer.outputs[0]
            index = graph.layer_index(self._model, name)
            del self._model.network.layers[index]
            if self._referenced_outside(output):
                if source in graph.input_names(self._model):
                    raise SpecEditError(
                        f'{layer_ref(name)} turns model input "{source}" into "{output}", which the model '
                        "exposes; removing it would leave nothing to produce that output"
                    )
                self._rename_tensor_everywhere(source, output)
            else:
                self._rename_tensor_everywhere(output, source)

    def replace_layer(self, name: str, kind: str, *, new_name: str | None = None, **params: Any) -> None:
        """Swap a layer for one of `kind` with the same inputs, output and position."""
        with self._edit(f"replace {layer_ref(name)} with a {kind} layer", validate=True):
            layer = self._layer(name)
            index = graph.layer_index(self._model, name)
            inputs, outputs = list(layer.inputs), list(layer.outputs)
            del self._model.network.layers[index]
            adder = self._adder(kind)
            if kind == "onnx_node":
                adder(new_name or name, inputs, outputs=outputs, **params)
            elif kind in MULTI_INPUT_KINDS:
                adder(new_name or name, inputs, output=outputs[0], **params)
            else:
                if len(inputs) != 1 or len(outputs) != 1:
                    raise SpecEditError(
                        f"{layer_ref(name)} has {len(inputs)} inputs; a {kind} layer takes one"
                    )
                adder(new_name or name, inputs[0], output=outputs[0], **params)
            self._move_last_to(index)

    def rename_layer(self, old: str, new: str) -> None:
        """Rename a layer; an output tensor named like the layer is renamed along with it."""
        with self._edit(f'rename {layer_ref(old)} to "{new}"', validate=True):
            layer = self._layer(old)
            if any(other.name == new for other in self._model.network.layers):
                raise SpecEditError(f'{layer_ref(old)}: a layer named "{new}" already exists')
            if any(loss.name == new for loss in self._model.update_parameters.loss_layers):
                raise SpecEditError(
                    f'{layer_ref(old)}: "{new}" is a loss name; layer and loss names must differ'
                )
            layer.name = new
            if old in layer.outputs:
                self._rename_tensor(old, new)

    def rename_tensor(self, old: str, new: str) -> None:
        """Rename a tensor (a model input or a layer output) everywhere it is referenced."""
        with self._edit(f'rename tensor "{old}" to "{new}"', validate=True):
            if old not in self._known_tensors():
                raise SpecEditError(
                    f'no tensor named "{old}"; it is neither a model input nor a layer output'
                )
            self._rename_tensor(old, new)

    def _rename_tensor(self, old: str, new: str) -> None:
        if new in self._known_tensors() or new in graph.training_input_names(self._model):
            raise SpecEditError(f'tensor "{new}" already exists; pick an unused name')
        self._rename_tensor_everywhere(old, new)
        for feature in (*self._model.description.inputs, *self._model.description.training_inputs):
            if feature.name == old:
                feature.name = new

    def _referenced_outside(self, tensor: str) -> bool:
        """Whether a name users see (outputs, probabilities, losses) refers to `tensor`."""
        model = self._model
        if any(feature.name == tensor for feature in model.description.outputs):
            return True
        if any(loss.input == tensor for loss in model.update_parameters.loss_layers):
            return True
        return model.HasField("classifier") and model.classifier.predicted_probabilities_name == tensor
