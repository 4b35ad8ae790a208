from mlspec._proto import parameters_pb2 as _parameters_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UpdateParameters(_message.Message):
    __slots__ = ("loss_layers", "optimizer", "epochs", "shuffle", "seed", "clipping", "lr_schedule", "proximal_mu", "augmentation")
    LOSS_LAYERS_FIELD_NUMBER: _ClassVar[int]
    OPTIMIZER_FIELD_NUMBER: _ClassVar[int]
    EPOCHS_FIELD_NUMBER: _ClassVar[int]
    SHUFFLE_FIELD_NUMBER: _ClassVar[int]
    SEED_FIELD_NUMBER: _ClassVar[int]
    CLIPPING_FIELD_NUMBER: _ClassVar[int]
    LR_SCHEDULE_FIELD_NUMBER: _ClassVar[int]
    PROXIMAL_MU_FIELD_NUMBER: _ClassVar[int]
    AUGMENTATION_FIELD_NUMBER: _ClassVar[int]
    loss_layers: _containers.RepeatedCompositeFieldContainer[LossLayer]
    optimizer: Optimizer
    epochs: _parameters_pb2.Int64Parameter
    shuffle: _parameters_pb2.BoolParameter
    seed: _parameters_pb2.Int64Parameter
    clipping: GradientClipping
    lr_schedule: LearningRateSchedule
    proximal_mu: _parameters_pb2.DoubleParameter
    augmentation: Augmentation
    def __init__(self, loss_layers: _Optional[_Iterable[_Union[LossLayer, _Mapping]]] = ..., optimizer: _Optional[_Union[Optimizer, _Mapping]] = ..., epochs: _Optional[_Union[_parameters_pb2.Int64Parameter, _Mapping]] = ..., shuffle: _Optional[_Union[_parameters_pb2.BoolParameter, _Mapping]] = ..., seed: _Optional[_Union[_parameters_pb2.Int64Parameter, _Mapping]] = ..., clipping: _Optional[_Union[GradientClipping, _Mapping]] = ..., lr_schedule: _Optional[_Union[LearningRateSchedule, _Mapping]] = ..., proximal_mu: _Optional[_Union[_parameters_pb2.DoubleParameter, _Mapping]] = ..., augmentation: _Optional[_Union[Augmentation, _Mapping]] = ...) -> None: ...

class Augmentation(_message.Message):
    __slots__ = ("brightness", "horizontal_flip", "max_rotation_degrees", "crop_padding")
    BRIGHTNESS_FIELD_NUMBER: _ClassVar[int]
    HORIZONTAL_FLIP_FIELD_NUMBER: _ClassVar[int]
    MAX_ROTATION_DEGREES_FIELD_NUMBER: _ClassVar[int]
    CROP_PADDING_FIELD_NUMBER: _ClassVar[int]
    brightness: float
    horizontal_flip: bool
    max_rotation_degrees: float
    crop_padding: int
    def __init__(self, brightness: _Optional[float] = ..., horizontal_flip: bool = ..., max_rotation_degrees: _Optional[float] = ..., crop_padding: _Optional[int] = ...) -> None: ...

class LossLayer(_message.Message):
    __slots__ = ("name", "weight", "input", "target", "categorical_cross_entropy", "mean_squared_error", "binary_cross_entropy", "l1", "huber")
    NAME_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    INPUT_FIELD_NUMBER: _ClassVar[int]
    TARGET_FIELD_NUMBER: _ClassVar[int]
    CATEGORICAL_CROSS_ENTROPY_FIELD_NUMBER: _ClassVar[int]
    MEAN_SQUARED_ERROR_FIELD_NUMBER: _ClassVar[int]
    BINARY_CROSS_ENTROPY_FIELD_NUMBER: _ClassVar[int]
    L1_FIELD_NUMBER: _ClassVar[int]
    HUBER_FIELD_NUMBER: _ClassVar[int]
    name: str
    weight: float
    input: str
    target: str
    categorical_cross_entropy: CategoricalCrossEntropyLoss
    mean_squared_error: MeanSquaredErrorLoss
    binary_cross_entropy: BinaryCrossEntropyLoss
    l1: L1Loss
    huber: HuberLoss
    def __init__(self, name: _Optional[str] = ..., weight: _Optional[float] = ..., input: _Optional[str] = ..., target: _Optional[str] = ..., categorical_cross_entropy: _Optional[_Union[CategoricalCrossEntropyLoss, _Mapping]] = ..., mean_squared_error: _Optional[_Union[MeanSquaredErrorLoss, _Mapping]] = ..., binary_cross_entropy: _Optional[_Union[BinaryCrossEntropyLoss, _Mapping]] = ..., l1: _Optional[_Union[L1Loss, _Mapping]] = ..., huber: _Optional[_Union[HuberLoss, _Mapping]] = ...) -> None: ...

class CategoricalCrossEntropyLoss(_message.Message):
    __slots__ = ("from_logits",)
    FROM_LOGITS_FIELD_NUMBER: _ClassVar[int]
    from_logits: bool
    def __init__(self, from_logits: bool = ...) -> None: ...

class MeanSquaredErrorLoss(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class BinaryCrossEntropyLoss(_message.Message):
    __slots__ = ("from_logits",)
    FROM_LOGITS_FIELD_NUMBER: _ClassVar[int]
    from_logits: bool
    def __init__(self, from_logits: bool = ...) -> None: ...

class L1Loss(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class HuberLoss(_message.Message):
    __slots__ = ("delta",)
    DELTA_FIELD_NUMBER: _ClassVar[int]
    delta: float
    def __init__(self, delta: _Optional[float] = ...) -> None: ...

class Optimizer(_message.Message):
    __slots__ = ("sgd", "adam", "adamw")
    SGD_FIELD_NUMBER: _ClassVar[int]
    ADAM_FIELD_NUMBER: _ClassVar[int]
    ADAMW_FIELD_NUMBER: _ClassVar[int]
    sgd: SgdOptimizer
    adam: AdamOptimizer
    adamw: AdamOptimizer
    def __init__(self, sgd: _Optional[_Union[SgdOptimizer, _Mapping]] = ..., adam: _Optional[_Union[AdamOptimizer, _Mapping]] = ..., adamw: _Optional[_Union[AdamOptimizer, _Mapping]] = ...) -> None: ...

class SgdOptimizer(_message.Message):
    __slots__ = ("learning_rate", "mini_batch_size", "momentum", "nesterov", "weight_decay")
    LEARNING_RATE_FIELD_NUMBER: _ClassVar[int]
    MINI_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    MOMENTUM_FIELD_NUMBER: _ClassVar[int]
    NESTEROV_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_DECAY_FIELD_NUMBER: _ClassVar[int]
    learning_rate: _parameters_pb2.DoubleParameter
    mini_batch_size: _parameters_pb2.Int64Parameter
    momentum: _parameters_pb2.DoubleParameter
    nesterov: _parameters_pb2.BoolParameter
    weight_decay: _parameters_pb2.DoubleParameter
    def __init__(self, learning_rate: _Optional[_Union[_parameters_pb2.DoubleParameter, _Mapping]] = ..., mini_batch_size: _Optional[_Union[_parameters_pb2.Int64Parameter, _Mapping]] = ..., momentum: _Optional[_Union[_parameters_pb2.DoubleParameter, _Mapping]] = ..., nesterov: _Optional[_Union[_parameters_pb2.BoolParameter, _Mapping]] = ..., weight_decay: _Optional[_Union[_parameters_pb2.DoubleParameter, _Mapping]] = ...) -> None: ...

class AdamOptimizer(_message.Message):
    __slots__ = ("learning_rate", "mini_batch_size", "beta1", "beta2", "eps", "weight_decay")
    LEARNING_RATE_FIELD_NUMBER: _ClassVar[int]
    MINI_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    BETA1_FIELD_NUMBER: _ClassVar[int]
    BETA2_FIELD_NUMBER: _ClassVar[int]
    EPS_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_DECAY_FIELD_NUMBER: _ClassVar[int]
    learning_rate: _parameters_pb2.DoubleParameter
    mini_batch_size: _parameters_pb2.Int64Parameter
    beta1: _parameters_pb2.DoubleParameter
    beta2: _parameters_pb2.DoubleParameter
    eps: _parameters_pb2.DoubleParameter
    weight_decay: _parameters_pb2.DoubleParameter
    def __init__(self, learning_rate: _Optional[_Union[_parameters_pb2.DoubleParameter, _Mapping]] = ..., mini_batch_size: _Optional[_Union[_parameters_pb2.Int64Parameter, _Mapping]] = ..., beta1: _Optional[_Union[_parameters_pb2.DoubleParameter, _Mapping]] = ..., beta2: _Optional[_Union[_parameters_pb2.DoubleParameter, _Mapping]] = ..., eps: _Optional[_Union[_parameters_pb2.DoubleParameter, _Mapping]] = ..., weight_decay: _Optional[_Union[_parameters_pb2.DoubleParameter, _Mapping]] = ...) -> None: ...

class GradientClipping(_message.Message):
    __slots__ = ("max_norm", "max_value")
    MAX_NORM_FIELD_NUMBER: _ClassVar[int]
    MAX_VALUE_FIELD_NUMBER: _ClassVar[int]
    max_norm: _parameters_pb2.DoubleParameter
    max_value: _parameters_pb2.DoubleParameter
    def __init__(self, max_norm: _Optional[_Union[_parameters_pb2.DoubleParameter, _Mapping]] = ..., max_value: _Optional[_Union[_parameters_pb2.DoubleParameter, _Mapping]] = ...) -> None: ...

class LearningRateSchedule(_message.Message):
    __slots__ = ("step", "cosine", "linear_warmup")
    STEP_FIELD_NUMBER: _ClassVar[int]
    COSINE_FIELD_NUMBER: _ClassVar[int]
    LINEAR_WARMUP_FIELD_NUMBER: _ClassVar[int]
    step: StepSchedule
    cosine: CosineSchedule
    linear_warmup: LinearWarmupSchedule
    def __init__(self, step: _Optional[_Union[StepSchedule, _Mapping]] = ..., cosine: _Optional[_Union[CosineSchedule, _Mapping]] = ..., linear_warmup: _Optional[_Union[LinearWarmupSchedule, _Mapping]] = ...) -> None: ...

class StepSchedule(_message.Message):
    __slots__ = ("step_epochs", "gamma")
    STEP_EPOCHS_FIELD_NUMBER: _ClassVar[int]
    GAMMA_FIELD_NUMBER: _ClassVar[int]
    step_epochs: int
    gamma: float
    def __init__(self, step_epochs: _Optional[int] = ..., gamma: _Optional[float] = ...) -> None: ...

class CosineSchedule(_message.Message):
    __slots__ = ("min_lr",)
    MIN_LR_FIELD_NUMBER: _ClassVar[int]
    min_lr: float
    def __init__(self, min_lr: _Optional[float] = ...) -> None: ...

class LinearWarmupSchedule(_message.Message):
    __slots__ = ("warmup_steps", "start_factor")
    WARMUP_STEPS_FIELD_NUMBER: _ClassVar[int]
    START_FACTOR_FIELD_NUMBER: _ClassVar[int]
    warmup_steps: int
    start_factor: float
    def __init__(self, warmup_steps: _Optional[int] = ..., start_factor: _Optional[float] = ...) -> None: ...
