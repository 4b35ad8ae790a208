"""What the training model expects to be fed: each feature's name, dtype, per-example shape and labels.

Derived once from the manifest, the runtime's source of truth besides the ONNX files, so that
data checking never looks at protobuf or JSON again and a trainer built from a spec sees the
same picture as one built from an artifacts directory.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from mlspec._proto import model_pb2
from mlspec.convert.manifest import Feature, Manifest
from mlspec.spec.images import ImageInput
from mlspec.spec.shapes import feature_info
from mlspec.spec.tensor_info import DTYPE_NAMES

Role = Literal["input", "target"]
_FEEDS = {
    "int64": np.int64,
    "int32": np.int32,
    "int8": np.int8,
    "uint8": np.uint8,
    "bool": np.bool_,
    "string": np.str_,
}


def feed_dtype(name: str) -> np.dtype[np.generic]:
    """The dtype a feature of dtype `name` (mlspec.spec.tensor_info.DTYPE_NAMES) is fed as:
    integer and bool inputs as declared (token ids, uint8 pixels, masks; int64 for class
    indices), str for strings, float32 for the rest."""
    return np.dtype(_FEEDS.get(name, np.float32))


@dataclass(frozen=True)
class FeatureSpec:
    """One named feed of the training model."""

    name: str
    role: Role
    # The dtype the session is fed: float32, an integer dtype (int64 for class indices), bool or str.
    dtype: np.dtype[np.generic]
    # Dims after the batch axis; None where the spec leaves a dim symbolic.
    example_shape: tuple[int | None, ...]
    # Class-label targets only: how many classes (None if unknown) and, when data may name
    # classes by label rather than index, the labels in index order.
    class_count: int | None = None
    labels: tuple[str, ...] | tuple[int, ...] | None = None
    is_class_label: bool = False
    # Image inputs only: data holds pixels, which mlspec.runtime.pixels turns into the tensor.
    image: ImageInput | None = None


def features_from_manifest(manifest: Manifest) -> list[FeatureSpec]:
    """Inputs first, then training inputs not already listed, as the manifest orders them."""
    class_targets = {loss.target for loss in manifest.losses if loss.kind == "categorical_cross_entropy"}
    features: list[FeatureSpec] = []
    seen: set[str] = set()
    for feature in [*manifest.inputs, *manifest.training_inputs]:
        if feature.name in seen:
            continue
        seen.add(feature.name)
        if feature.name in class_targets:
            features.append(_class_target(manifest, feature))
        else:
            features.append(_plain(feature))
    return features


def spec_input_features(model: model_pb2.Model) -> list[FeatureSpec]:
    """A spec's model inputs as the feeds its first layers take: integer and bool inputs as
    declared (token ids, uint8 pixels, masks), float32 for everything else numeric."""
    features = []
    for feature in model.description.inputs:
        info = feature_info(feature)
        dims = tuple(d if isinstance(d, int) else None for d in (info.dims or ())[1:])
        image = ImageInput.of(feature.image) if feature.HasField("image") else None
        dtype = feed_dtype(DTYPE_NAMES.get(info.dtype, "unknown"))
        features.append(FeatureSpec(feature.name, "input", dtype, dims, image=image))
    return features


def inputs_only(features: list[FeatureSpec]) -> list[FeatureSpec]:
    return [feature for feature in features if feature.role == "input"]


def _plain(feature: Feature) -> FeatureSpec:
    dims = tuple(d if isinstance(d, int) else None for d in feature.shape[1:])
    dtype = feed_dtype(feature.dtype)
    image = None
    if feature.image is not None:
        fields = feature.image
        image = ImageInput(
            int(fields["width"]),
            int(fields["height"]),
            str(fields["color_space"]),
            tuple(float(v) for v in fields["scale"]),
            tuple(float(v) for v in fields["bias"]),
        )
    return FeatureSpec(feature.name, _role(feature), dtype, dims, image=image)


def _class_target(manifest: Manifest, feature: Feature) -> FeatureSpec:
    mapping = manifest.label_mapping.get(feature.name)
    labels = tuple(mapping.labels) if mapping is not None else None
    count = len(labels) if labels is not None else (len(manifest.class_labels) or None)
    return FeatureSpec(
        feature.name,
        _role(feature),
        np.dtype(np.int64),
        (),
        class_count=count,
        labels=labels,
        is_class_label=True,
    )


def _role(feature: Feature) -> Role:
    return "input" if feature.role == "input" else "target"
