"""Feature rules: declared inputs, outputs and training inputs, and the classifier's labels."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

from mlspec._proto import tensor_pb2
from mlspec.spec.errors import Problem
from mlspec.spec.images import augmentation_problems, image_problems
from mlspec.spec.tensor_info import UNKNOWN_DTYPE, feature_info
from mlspec.spec.validate.context import Context, feature_where, layer_where
from mlspec.spec.validate.tensors import MAX_ELEMENTS
from mlspec.spec.weights import NUMPY_DTYPES, dtype_name


def check(context: Context) -> list[Problem]:
    description = context.model.description
    problems: list[Problem] = []
    for section in ("inputs", "outputs", "training_inputs"):
        problems += _features(section, getattr(description, section))
    problems += _declared_outputs(context)
    problems += _scalar_inputs_read(context)
    problems += _training_inputs(context)
    problems += _classifier(context)
    problems += augmentation_problems(context.model)
    return problems


def _declared_outputs(context: Context) -> list[Problem]:
    """A declared output type must agree with what the network computes, where both are known."""
    problems: list[Problem] = []
    label = context.model.classifier.predicted_feature_name if context.model.HasField("classifier") else ""
    for index, feature in enumerate(context.model.description.outputs):
        if feature.name not in context.producer_index or feature.name == label:
            continue
        declared, computed = feature_info(feature), context.info(feature.name)
        if computed.dims is None and declared.dims and len(declared.dims) < 2:
            problems += _softmax_rank(
                context, feature.name, f"{feature_where('outputs', feature.name, index)}"
            )
        if not declared.dims or computed.dims is None:
            continue  # an empty declared shape is reported on its own
        dtype_differs = (
            UNKNOWN_DTYPE not in (declared.dtype, computed.dtype) and declared.dtype != computed.dtype
        )
        dims_differ = len(declared.dims) != len(computed.dims) or any(
            isinstance(a, int) and isinstance(b, int) and a != b
            for a, b in zip(declared.dims, computed.dims, strict=False)
        )
        if dtype_differs or dims_differ:
            problems.append(
                Problem(
                    f"{feature_where('outputs', feature.name, index)}.type",
                    f"is declared {declared}, but the network computes {computed}",
                    f"declare {computed}",
                )
            )
    return problems


def _scalar_inputs_read(context: Context) -> list[Problem]:
    """Layers read tensors: a string or int64 scalar feature fed to a generic ONNX node validated
    and then failed ONNX's shape inference in convert (spec fuzz seed 2026 #49698)."""
    scalars = {
        feature.name: str(feature.type.WhichOneof("kind")).removesuffix("_type")
        for feature in context.model.description.inputs
        if feature.type.WhichOneof("kind") in ("string_type", "int64_type")
    }
    problems: list[Problem] = []
    for index, layer in enumerate(context.model.network.layers):
        for name in dict.fromkeys(layer.inputs):
            if name in scalars:
                problems.append(
                    Problem(
                        layer_where(layer, index),
                        f'reads "{name}", a scalar {scalars[name]} feature; layers read tensors',
                        f'declare "{name}" as a tensor with the batch first, e.g. ["batch", 1]',
                    )
                )
    return problems


def _softmax_rank(context: Context, name: str, where: str) -> list[Problem]:
    """Where the network's shapes are unknown (after an imported node), a softmax output declared
    as [batch] still contradicts the softmax, which needs [batch, classes]: validate passed such a
    spec and ONNX's shape inference refused it in convert (spec fuzz seed 2026 #28402)."""
    producer = context.producer(name)
    if producer is None or producer.WhichOneof("kind") != "softmax":
        return []
    return [
        Problem(
            f"{where}.type",
            "is declared with the batch axis alone, but it is a softmax output, which has the batch "
            "and at least one more axis",
            "declare it [batch, classes]",
        )
    ]


def _features(section: str, features: Sequence[tensor_pb2.FeatureDescription]) -> list[Problem]:
    problems: list[Problem] = []
    for index, feature in enumerate(features):
        where = feature_where(section, feature.name, index)
        if not feature.name:
            problems.append(Problem(where, "has no name", "name every feature"))
        if feature.HasField("image") and section == "inputs":
            problems += image_problems(feature, where)
        elif feature.HasField("image") and section == "outputs":
            problems.append(Problem(f"{where}.image", "is set", "declare images on model inputs only"))
        kind = feature.type.WhichOneof("kind")
        if kind is None:
            problems.append(Problem(f"{where}.type", "is not set", "declare a tensor, string or int64 type"))
        elif kind == "tensor":
            tensor = feature.type.tensor
            if tensor.dtype not in NUMPY_DTYPES:
                allowed = ", ".join(dtype_name(code) for code in NUMPY_DTYPES)
                problems.append(
                    Problem(
                        f"{where}.type",
                        f"dtype {dtype_name(tensor.dtype)} is not supported",
                        f"use {allowed}",
                    )
                )
            elif section == "inputs" and tensor.dtype in (tensor_pb2.FLOAT16, tensor_pb2.DOUBLE):
                # the rule convert applies (its weights are float32, which a float16 or double input
                # would meet in its first op); validate passed these (spec fuzz seed 2026 #76590)
                problems.append(
                    Problem(
                        f"{where}.type",
                        f"dtype {dtype_name(tensor.dtype)} is not supported for a model input; converted "
                        "networks compute in float32",
                        "declare the input FLOAT32",
                    )
                )
            if not tensor.shape:
                problems.append(
                    Problem(
                        f"{where}.type",
                        "has no shape",
                        'give the shape with the batch first, e.g. ["batch", 4]',
                    )
                )
            bad = [d.size for d in tensor.shape if d.WhichOneof("value") == "size" and d.size <= 0]
            if bad:
                problems.append(
                    Problem(
                        f"{where}.type", f"has sizes {bad} <= 0", "use positive sizes or symbolic dimensions"
                    )
                )
            elif math.prod(d.size for d in tensor.shape if d.WhichOneof("value") == "size") > MAX_ELEMENTS:
                # [batch, 1, 2^63 - 1, 4] validated and then hung onnxruntime's gradient builder
                problems.append(
                    Problem(
                        f"{where}.type",
                        f"holds more than {MAX_ELEMENTS:,} elements per example, the limit",
                        "declare the sizes of one example (the batch stays symbolic)",
                    )
                )
    for name, count in Counter(f.name for f in features if f.name).items():
        if count > 1:
            problems.append(
                Problem(f'description.{section}["{name}"]', f"is declared {count} times", "declare it once")
            )
    return problems


def _training_inputs(context: Context) -> list[Problem]:
    """A training input may repeat a model input (as Core ML lists them), but only unchanged."""
    inputs = {f.name: f for f in context.model.description.inputs}
    problems: list[Problem] = []
    for index, feature in enumerate(context.model.description.training_inputs):
        where = feature_where("training_inputs", feature.name, index)
        same_name = inputs.get(feature.name)
        if same_name is not None and feature_info(same_name) != feature_info(feature):
            problems.append(
                Problem(
                    where,
                    f'has the name of model input "{feature.name}" but type {feature_info(feature)} '
                    f"instead of {feature_info(same_name)}",
                    "rename the training input, or give it the model input's type",
                )
            )
        if feature.HasField("image") and (same_name is None or same_name.image != feature.image):
            problems.append(
                Problem(
                    f"{where}.image",
                    "differs from the model input's image" if same_name else "is set",
                    "declare images on model inputs; a training input may only repeat one unchanged",
                )
            )
        producer = context.producer(feature.name)
        if producer is not None and same_name is None:
            problems.append(
                Problem(
                    where,
                    f"is also produced by {layer_where(producer, context.producer_index[feature.name])}",
                    "rename the training input or the layer output",
                )
            )
    return problems


def _classifier(context: Context) -> list[Problem]:
    model = context.model
    if not model.HasField("classifier"):
        return []
    info = model.classifier
    where = "classifier"
    problems: list[Problem] = []
    which = info.WhichOneof("labels")
    labels: list[str] | list[int] = (
        list(info.string_labels.values) if which == "string_labels" else list(info.int64_labels.values)
    )
    if not labels:
        problems.append(
            Problem(f"{where}.labels", "the classifier has no class labels", "list the class labels")
        )
    duplicates = sorted(str(label) for label, count in Counter(labels).items() if count > 1)
    if duplicates:
        problems.append(
            Problem(
                f"{where}.labels",
                f"labels {', '.join(duplicates)} appear more than once",
                "list each label once",
            )
        )
    if not info.predicted_feature_name:
        problems.append(
            Problem(
                f"{where}.predicted_feature_name", "is empty", 'name the predicted-label output, e.g. "label"'
            )
        )
    elif info.predicted_feature_name in context.producer_index:
        problems.append(
            Problem(
                f"{where}.predicted_feature_name",
                f'"{info.predicted_feature_name}" is also a layer output; '
                "the converter adds the label output itself",
                "choose a name no layer outputs",
            )
        )
    probabilities = info.predicted_probabilities_name
    if not probabilities:
        problems.append(
            Problem(
                f"{where}.predicted_probabilities_name",
                "is empty",
                "name the softmax output holding the probabilities",
            )
        )
    elif probabilities not in context.producer_index:
        problems.append(
            Problem(
                f"{where}.predicted_probabilities_name",
                f'"{probabilities}" is not produced by any layer',
                "name the layer output holding the class probabilities",
            )
        )
    else:
        problems += _class_count(context, probabilities, len(labels))
    return problems


def _class_count(context: Context, probabilities: str, label_count: int) -> list[Problem]:
    dims = context.info(probabilities).dims
    if dims and len(dims) != 2:
        return [
            Problem(
                "classifier.predicted_probabilities_name",
                f'"{probabilities}" has {len(dims)} dimensions; class probabilities are [batch, classes]',
                "name the softmax output over the classes (flatten before the last dense layer)",
            )
        ]
    if not dims or not label_count:
        return []
    classes = dims[-1]
    if isinstance(classes, int) and classes != label_count:
        return [
            Problem(
                "classifier.labels",
                f'{label_count} labels, but "{probabilities}" has {classes} classes',
                "list one label per class, or resize the last layer",
            )
        ]
    return []
