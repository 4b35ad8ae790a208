"""What every part of the builder shares: the model being edited and the all-or-nothing edit.

Each public edit runs inside ``_edit``: the model is snapshotted first and restored in place if
anything goes wrong, so a caller holding ``builder.spec`` never sees a half-applied change. The
Model object stays the same one; sub-messages a caller fetched before a refused edit (a layer,
``update_parameters``) are detached by the restore, so fetch them again from ``builder.spec``.
Edits that should leave a working spec (surgery, updatability, losses, optimizer) also run
validation and are refused if they add a problem the spec did not already have; that way a
network still being assembled (no outputs yet) can be made updatable step by step, while a spec
that validated before an edit still validates after it.

One kind of new problem is tolerated: a training setup that is merely unfinished (updatable
layers but no loss, optimizer or epochs yet). Setting up training takes several calls, in any
order, and each later call supplies what the earlier one lacked; ``validate`` still reports
whatever is missing at the end. Problems that say something is wrong, rather than absent, are
never tolerated.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence

from mlspec._proto import layers_pb2, model_pb2
from mlspec.spec import graph
from mlspec.spec.errors import MlspecError, Problem, SpecEditError
from mlspec.spec.shapes import TensorInfo, infer_shapes
from mlspec.spec.validate import find_problems


class BuilderBase:
    """State and helpers shared by the builder's mixins; see NetworkBuilder for the public API."""

    _model: model_pb2.Model
    _seed: int
    _auto_outputs: bool

    def _complete_description(self) -> None:
        """Fill in what the builder infers (outputs, classifier names); overridden by NetworkBuilder."""

    @contextlib.contextmanager
    def _edit(self, what: str, *, validate: bool) -> Iterator[None]:
        snapshot = model_pb2.Model()
        snapshot.CopyFrom(self._model)
        try:
            if validate:
                self._complete_description()
                before = {str(problem) for problem in find_problems(self._model)}
            yield
            if validate:
                self._complete_description()
                added = [
                    p for p in find_problems(self._model) if str(p) not in before and not is_unfinished(p)
                ]
                if added:
                    listing = "\n".join(f"  - {problem}" for problem in added)
                    raise SpecEditError(f"{what} refused; it would leave the spec invalid:\n{listing}")
        except SpecEditError:
            self._model.CopyFrom(snapshot)
            raise
        except MlspecError as exc:
            self._model.CopyFrom(snapshot)
            raise SpecEditError(f"{what} refused: {exc}") from exc
        except BaseException:
            self._model.CopyFrom(snapshot)
            raise

    def _seed_for(self, seed: int | None) -> int:
        """A call's own seed, else the builder's: one seed makes a whole network reproducible."""
        return self._seed if seed is None else seed

    def _layer(self, name: str) -> layers_pb2.Layer:
        return graph.find_layer(self._model, name)

    def _shapes(self) -> dict[str, TensorInfo]:
        return infer_shapes(self._model)

    def _tensor_info(self, tensor: str, who: str) -> TensorInfo:
        info = self._shapes().get(tensor)
        if info is None or info.dims is None:
            raise SpecEditError(f"{who}: the shape of tensor {tensor!r} is unknown; pass the size explicitly")
        return info

    def _known_tensors(self) -> set[str]:
        names = set(graph.input_names(self._model))
        for layer in self._model.network.layers:
            names.update(layer.outputs)
        return names

    def _rename_tensor_everywhere(self, old: str, new: str) -> None:
        """Point every reference to tensor `old` (layers, outputs, losses, classifier) at `new`."""
        for layer in self._model.network.layers:
            _replace_in(layer.inputs, old, new)
            _replace_in(layer.outputs, old, new)
            if layer.HasField("onnx_node"):
                _replace_in(layer.onnx_node.node_inputs, old, new)
        for feature in self._model.description.outputs:
            if feature.name == old:
                feature.name = new
        for loss in self._model.update_parameters.loss_layers:
            if loss.input == old:
                loss.input = new
        if self._model.HasField("classifier"):
            info = self._model.classifier
            if info.predicted_probabilities_name == old:
                info.predicted_probabilities_name = new


UNFINISHED_WHERE = (
    "update_parameters.loss_layers",
    "update_parameters.optimizer",
    "update_parameters.epochs",
)


def is_unfinished(problem: Problem) -> bool:
    """Whether `problem` only says that a training setting is still missing."""
    if problem.where in UNFINISHED_WHERE[:2]:
        return True
    missing = problem.message == "is not set"
    return missing and (
        problem.where in UNFINISHED_WHERE or problem.where.startswith("update_parameters.optimizer.")
    )


def _replace_in(names: Sequence[str], old: str, new: str) -> None:
    for index, name in enumerate(names):
        if name == old:
            names[index] = new  # type: ignore[index]
