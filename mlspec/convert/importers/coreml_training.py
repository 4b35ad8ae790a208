"""Core ML update parameters and feature types -> mlspec.

Everything Core ML stores is carried over value for value: losses (by name, input and target),
the optimizer with each hyperparameter's default and allowed range or set, epochs, shuffle and
seed, and the training inputs with their descriptions. Three deliberate adjustments:

- Adam's beta1/beta2 ranges ending at 1 end at 0.99999, and an eps range starting at 0 starts
  at 1e-12 (coremltools writes [0, 1] for all three). mlspec's validator rejects those end
  points because a beta of 1 or an eps of 0 makes Adam divide by zero; these are the builder's
  nearest safe values (mlspec.builder.params.DEFAULT_RANGES).
- A classifier's cross-entropy target is the training input named after the predicted feature
  (the true label, as a string or int64), which is what Core ML feeds it; coremltools names
  the loss target "<probabilities>_true", a name no input carries.
- double and float16 arrays become float32 tensors and int32 targets of a cross-entropy become
  int64 class indices, the types mlspec trains with. Feature shapes gain the leading "batch".
  Images become image inputs whose tensor is float32 [batch, C, H, W] in the image's channel
  order (RGB, BGR or gray), with the image scaler as their preprocessing (see coreml_import).
"""

from __future__ import annotations

from typing import Any

from mlspec._proto import parameters_pb2, tensor_pb2, training_pb2
from mlspec.builder.params import DEFAULT_RANGES
from mlspec.builder.updatable import SEED_RANGE
from mlspec.convert.coreml_images import COLOR_SPACES
from mlspec.spec.errors import MlspecError

_INT32 = 131104
_FLOAT_TYPES = (65568, 65600, 65552)  # FLOAT32, DOUBLE, FLOAT16


class CoreMLImportError(MlspecError):
    """A Core ML model that mlspec cannot import, naming what and why."""


def feature_type(source: Any, where: str, *, class_index: bool = False) -> tensor_pb2.FeatureType:
    """A Core ML FeatureType as an mlspec one, batched."""
    result = tensor_pb2.FeatureType()
    which = source.WhichOneof("Type")
    if which == "stringType":
        result.string_type.SetInParent()
    elif which == "int64Type" or (class_index and which in ("multiArrayType", "doubleType")):
        result.int64_type.SetInParent()
    elif which == "doubleType":
        _batched(result.tensor, tensor_pb2.FLOAT32, [1])
    elif which == "multiArrayType":
        array = source.multiArrayType
        if array.dataType not in (*_FLOAT_TYPES, _INT32):
            raise CoreMLImportError(f"{where}: multi-array data type {array.dataType} is not supported")
        if not array.shape:
            raise CoreMLImportError(f"{where}: the multi-array has no fixed default shape")
        dtype = tensor_pb2.INT32 if array.dataType == _INT32 else tensor_pb2.FLOAT32
        _batched(result.tensor, dtype, [int(d) for d in array.shape])
    elif which == "imageType":
        image = source.imageType
        channels = 1 if COLOR_SPACES.get(int(image.colorSpace)) == "gray" else 3
        _batched(result.tensor, tensor_pb2.FLOAT32, [channels, int(image.height), int(image.width)])
    else:
        raise CoreMLImportError(
            f"{where}: feature type {which} is not supported; use arrays, strings or ints"
        )
    return result


def _batched(target: tensor_pb2.TensorType, dtype: int, dims: list[int]) -> None:
    target.dtype = dtype  # type: ignore[assignment]
    target.shape.add(symbol="batch")
    for dim in dims:
        target.shape.add(size=dim)


def _double(source: Any, name: str) -> parameters_pb2.DoubleParameter:
    result = parameters_pb2.DoubleParameter(default_value=source.defaultValue)
    if source.HasField("range"):
        low, high = source.range.minValue, source.range.maxValue
        safe_low, safe_high = DEFAULT_RANGES.get(name, (low, high))
        result.range.min = max(low, safe_low)
        result.range.max = min(high, safe_high)
    return result


def _int(source: Any, unconstrained: tuple[int, int] | None = None) -> parameters_pb2.Int64Parameter:
    """Without allowed values Core ML allows only the default; mlspec says so explicitly, or
    allows `unconstrained` (the seed, which Core ML never constrains)."""
    result = parameters_pb2.Int64Parameter(default_value=source.defaultValue)
    which = source.WhichOneof("AllowedValues")
    if which == "range":
        result.range.min, result.range.max = source.range.minValue, source.range.maxValue
    elif which == "set":
        result.set.values.extend(int(v) for v in source.set.values)
    elif unconstrained is not None:
        result.range.min, result.range.max = unconstrained
    else:
        result.set.values.append(int(source.defaultValue))
    return result


def _optimizer(source: Any, target: training_pb2.Optimizer) -> None:
    which = source.WhichOneof("OptimizerType")
    if which == "sgdOptimizer":
        sgd = source.sgdOptimizer
        target.sgd.learning_rate.CopyFrom(_double(sgd.learningRate, "learning_rate"))
        target.sgd.mini_batch_size.CopyFrom(_int(sgd.miniBatchSize))
        if sgd.HasField("momentum"):
            target.sgd.momentum.CopyFrom(_double(sgd.momentum, "momentum"))
    elif which == "adamOptimizer":
        adam = source.adamOptimizer
        target.adam.learning_rate.CopyFrom(_double(adam.learningRate, "learning_rate"))
        target.adam.mini_batch_size.CopyFrom(_int(adam.miniBatchSize))
        for theirs, ours in (("beta1", "beta1"), ("beta2", "beta2"), ("eps", "eps")):
            if adam.HasField(theirs):
                getattr(target.adam, ours).CopyFrom(_double(getattr(adam, theirs), ours))


def update_parameters(source: Any, label_input: str, where: str) -> training_pb2.UpdateParameters:
    """`label_input`: the classifier's true-label training input, or "" for other models;
    `where`: the file, which every error names first."""
    result = training_pb2.UpdateParameters()
    for loss in source.lossLayers:
        which = loss.WhichOneof("LossLayerType")
        if which == "categoricalCrossEntropyLossLayer":
            body = loss.categoricalCrossEntropyLossLayer
            ours = result.loss_layers.add(name=loss.name, input=body.input, target=label_input or body.target)
            ours.categorical_cross_entropy.from_logits = False
        elif which == "meanSquaredErrorLossLayer":
            body = loss.meanSquaredErrorLossLayer
            ours = result.loss_layers.add(name=loss.name, input=body.input, target=body.target)
            ours.mean_squared_error.SetInParent()
        else:
            raise CoreMLImportError(
                f'{where}: updateParams.lossLayers["{loss.name}"] has no loss type; allowed types are '
                "categoricalCrossEntropyLossLayer and meanSquaredErrorLossLayer"
            )
    if source.HasField("optimizer"):
        _optimizer(source.optimizer, result.optimizer)
    if source.HasField("epochs"):
        result.epochs.CopyFrom(_int(source.epochs))
    if source.HasField("shuffle"):
        result.shuffle.default_value = source.shuffle.defaultValue
    if source.HasField("seed"):
        result.seed.CopyFrom(_int(source.seed, SEED_RANGE))
    return result
