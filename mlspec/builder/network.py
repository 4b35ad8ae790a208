"""NetworkBuilder: one object to create a spec or open an existing one for editing.

New networks: ``NetworkBuilder(mode="classifier", class_labels=[...])`` then ``add_input``,
``add_*`` layers, and optionally ``add_output``. Inputs are given per example and gain a
leading symbolic batch dimension: ``add_input("image", (1, 20, 20))`` records
``[batch, 1, 20, 20]``.

Outputs: until ``add_output`` is called the builder declares them itself, from the last layer.
A classifier then exposes the last layer's output as its probabilities (the
``predicted_probabilities_name``, normally a softmax) and the predicted label under
``predicted_feature_name`` (default ``"label"``), typed by the class labels. Output types are
re-derived from the network whenever the spec is read or edited, so surgery never leaves them
stale. Reading ``builder.spec`` applies these derivations and returns the live Model.

Existing specs: ``NetworkBuilder(model)`` or ``NetworkBuilder.edit(model)`` edit `model` in
place; copy it first (``Model.CopyFrom``) to keep the original.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

from mlspec._proto import model_pb2, tensor_pb2
from mlspec.builder import description
from mlspec.builder.description import Labels
from mlspec.builder.layers import LayerAdders
from mlspec.builder.rewire import Rewiring
from mlspec.builder.surgery import Surgery
from mlspec.builder.training_inputs import sync_training_inputs
from mlspec.builder.updatable import TrainingSetup
from mlspec.spec import graph, weights
from mlspec.spec.errors import SpecEditError
from mlspec.spec.images import COLOR_SPACES, ImageInput, image_problems, per_channel
from mlspec.spec.io import SPEC_VERSION
from mlspec.spec.shapes import BATCH, Dim
from mlspec.spec.tensor_info import set_dims

Mode = Literal["classifier", "regressor", "plain"]
MODES: tuple[str, ...] = ("classifier", "regressor", "plain")


class NetworkBuilder(LayerAdders, TrainingSetup, Surgery, Rewiring):
    """Create or edit a spec. "regressor" and "plain" build the same spec (no classifier block)."""

    def __init__(
        self,
        model: model_pb2.Model | None = None,
        *,
        mode: Mode | None = None,
        class_labels: Labels | None = None,
        predicted_feature_name: str = "label",
        predicted_probabilities_name: str = "",
        seed: int = 0,
        name: str = "",
    ) -> None:
        self._seed = seed
        if model is not None:
            self._model = model
            self._auto_outputs = False
            self.mode: str = "classifier" if model.HasField("classifier") else (mode or "plain")
            return
        chosen = mode or ("classifier" if class_labels is not None else "plain")
        if chosen not in MODES:
            raise SpecEditError(f"mode {chosen!r} is not one of {', '.join(MODES)}")
        if class_labels is not None and chosen != "classifier":
            raise SpecEditError(f'class_labels are only for mode "classifier", not {chosen!r}')
        self.mode = chosen
        self._model = model_pb2.Model(spec_version=SPEC_VERSION)
        self._model.metadata.name = name
        self._auto_outputs = True
        if chosen == "classifier":
            info = self._model.classifier
            info.predicted_feature_name = predicted_feature_name
            info.predicted_probabilities_name = predicted_probabilities_name
            description.set_labels(self._model, class_labels or [])

    @classmethod
    def edit(cls, model: model_pb2.Model, *, seed: int = 0) -> NetworkBuilder:
        return cls(model, seed=seed)

    @property
    def spec(self) -> model_pb2.Model:
        """The live Model, with derived outputs and training inputs brought up to date."""
        self._complete_description()
        return self._model

    def _complete_description(self) -> None:
        layers = self._model.network.layers
        classifier = self._model.HasField("classifier")
        if classifier and not self._model.classifier.predicted_probabilities_name and layers:
            self._model.classifier.predicted_probabilities_name = layers[-1].outputs[0]
        if self._auto_outputs and layers:
            if classifier:
                info = self._model.classifier
                names = [info.predicted_probabilities_name, info.predicted_feature_name]
            else:
                names = list(layers[-1].outputs)
            description.set_output_names(self._model, names)
        shapes = self._shapes()
        description.refresh_output_types(self._model, shapes)
        sync_training_inputs(self._model, shapes)

    def add_input(
        self,
        name: str,
        shape: Sequence[Dim],
        *,
        dtype: int | str = "float32",
        batch: Dim = BATCH,
        short_description: str = "",
    ) -> None:
        """A model input; `shape` is per example and a leading `batch` dimension is added."""
        with self._edit(f'add input "{name}"', validate=False):
            if name in self._known_tensors():
                raise SpecEditError(f'input "{name}": the name is already used by an input or a layer output')
            feature = self._model.description.inputs.add(name=name, short_description=short_description)
            code = dtype if isinstance(dtype, int) else weights.spec_dtype(dtype)
            feature.type.tensor.dtype = code  # type: ignore[assignment]  # enum values are ints
            set_dims(feature.type.tensor, [batch, *shape])

    def set_input_shape(self, name: str, shape: Sequence[Dim], *, batch: Dim = BATCH) -> None:
        """Change an input's per-example shape; refused if the network no longer fits it."""
        with self._edit(f'set the shape of input "{name}"', validate=True):
            feature = _feature(self._model.description.inputs, name, "inputs")
            set_dims(feature.type.tensor, [batch, *shape])

    def add_image_input(
        self,
        name: str,
        width: int,
        height: int,
        *,
        color_space: str = "rgb",
        scale: float | Sequence[float] = 1.0,
        bias: float | Sequence[float] = 0.0,
        short_description: str = "",
    ) -> None:
        """An image input, like Core ML's imageType: the network reads float32 [batch, C, height,
        width], each channel pixel (0..255) * scale + bias; see mlspec.spec.images."""
        with self._edit(f'add image input "{name}"', validate=False):
            channels = 1 if color_space == "gray" else 3
            self.add_input(name, (channels, height, width), short_description=short_description)
            self.set_image_input(name, color_space=color_space, scale=scale, bias=bias)

    def set_image_input(
        self,
        name: str,
        *,
        color_space: str = "rgb",
        scale: float | Sequence[float] = 1.0,
        bias: float | Sequence[float] = 0.0,
    ) -> None:
        """Declare an existing [batch, C, H, W] float32 input an image (size from its shape), so the
        runtime turns pixels into it; scale and bias are one value or one per channel."""
        with self._edit(f'declare input "{name}" an image', validate=True):
            if color_space not in COLOR_SPACES:
                raise SpecEditError(
                    f'input "{name}": colour space {color_space!r} is not one of {", ".join(COLOR_SPACES)}'
                )
            feature = _feature(self._model.description.inputs, name, "inputs")
            dims = [d.size if d.WhichOneof("value") == "size" else 0 for d in feature.type.tensor.shape]
            if len(dims) != 4:
                raise SpecEditError(
                    f'input "{name}": per-example shape has {max(len(dims) - 1, 0)} dimensions; '
                    "an image input is [batch, channels, height, width]"
                )
            channels = 1 if color_space == "gray" else 3
            scales, biases = (
                _channel_values(name, "scale", scale, channels),
                _channel_values(name, "bias", bias, channels),
            )
            image = ImageInput(dims[3], dims[2], color_space, scales, biases)
            feature.image.CopyFrom(image.to_proto())
            self._model.spec_version = max(
                self._model.spec_version, SPEC_VERSION
            )  # older readers lack images
            problems = image_problems(feature, f'description.inputs["{name}"]')
            if problems:
                raise SpecEditError("; ".join(str(problem) for problem in problems))

    def add_output(self, name: str, *, short_description: str = "") -> None:
        """Declare an output (a layer's tensor, or a classifier's predicted feature name)."""
        with self._edit(f'add output "{name}"', validate=False):
            label = (
                self._model.classifier.predicted_feature_name if self._model.HasField("classifier") else ""
            )
            if name != label and name not in graph.producers(self._model):
                raise SpecEditError(f'output "{name}" is not produced by any layer; add the layer first')
            declared = [] if self._auto_outputs else [f.name for f in self._model.description.outputs]
            if name in declared:
                raise SpecEditError(f'output "{name}" is already declared')
            if self._auto_outputs:
                del self._model.description.outputs[:]
            self._model.description.outputs.add(name=name, short_description=short_description)
        self._auto_outputs = False

    def set_class_labels(
        self,
        labels: Labels,
        *,
        predicted_feature_name: str | None = None,
        predicted_probabilities_name: str | None = None,
    ) -> None:
        """Replace the class labels (strings or ints); makes the spec a classifier if it was not."""
        with self._edit("set class labels", validate=True):
            if len(set(labels)) != len(labels):
                raise SpecEditError("class labels must be unique")
            info = self._model.classifier
            if predicted_feature_name is not None or not info.predicted_feature_name:
                info.predicted_feature_name = predicted_feature_name or "label"
            if predicted_probabilities_name is not None:
                info.predicted_probabilities_name = predicted_probabilities_name
            description.set_labels(self._model, labels)
        self.mode = "classifier"

    def extend_class_labels(self, labels: Labels | None = None, *, count: int | None = None) -> None:
        """Append labels, or `count` placeholders (user0, user1, ...; the next ints for int labels).

        With neither, placeholders fill the labels up to the number of classes the
        probabilities tensor has, which repairs a classifier whose last layer outgrew its labels.
        """
        with self._edit("extend class labels", validate=True):
            current = graph.class_labels(self._model)
            if labels is None:
                if count is None:
                    probabilities = self._model.classifier.predicted_probabilities_name
                    classes = self._tensor_info(probabilities, "extend_class_labels").dims or ()
                    count = classes[-1] - len(current) if classes and isinstance(classes[-1], int) else 0
                labels = description.placeholder_labels(current, count)
            if not self._model.HasField("classifier") or not labels:
                raise SpecEditError("extend_class_labels: nothing to add (or the spec is not a classifier)")
            description.set_labels(self._model, [*current, *labels])

    def set_metadata(
        self,
        *,
        name: str | None = None,
        author: str | None = None,
        license: str | None = None,
        version: str | None = None,
        short_description: str | None = None,
        user_defined: dict[str, str] | None = None,
    ) -> None:
        metadata = self._model.metadata
        given = {
            "name": name,
            "author": author,
            "license": license,
            "version": version,
            "short_description": short_description,
        }
        for field, value in given.items():
            if value is not None:
                setattr(metadata, field, value)
        metadata.user_defined.update(user_defined or {})


def _channel_values(
    name: str, field: str, values: float | Sequence[float], channels: int
) -> tuple[float, ...]:
    given = [values] if isinstance(values, int | float) else list(values)
    if len(given) not in (1, channels):
        raise SpecEditError(
            f'input "{name}": {field} has {len(given)} values; give 1 or {channels} (one per channel)'
        )
    return per_channel(given, channels, 0.0)


def _feature(
    features: Sequence[tensor_pb2.FeatureDescription], name: str, section: str
) -> tensor_pb2.FeatureDescription:
    for feature in features:
        if feature.name == name:
            return feature
    names = ", ".join(f.name for f in features) or "(none)"
    raise SpecEditError(f'description.{section}: no feature named "{name}"; there are: {names}')
