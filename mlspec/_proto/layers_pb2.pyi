from mlspec._proto import tensor_pb2 as _tensor_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class NeuralNetwork(_message.Message):
    __slots__ = ("layers",)
    LAYERS_FIELD_NUMBER: _ClassVar[int]
    layers: _containers.RepeatedCompositeFieldContainer[Layer]
    def __init__(self, layers: _Optional[_Iterable[_Union[Layer, _Mapping]]] = ...) -> None: ...

class Layer(_message.Message):
    __slots__ = ("name", "inputs", "outputs", "is_updatable", "inner_product", "convolution", "batch_norm", "pooling", "activation", "softmax", "flatten", "reshape", "transpose", "concat", "add", "multiply", "dropout", "layer_norm", "embedding", "onnx_node")
    NAME_FIELD_NUMBER: _ClassVar[int]
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    IS_UPDATABLE_FIELD_NUMBER: _ClassVar[int]
    INNER_PRODUCT_FIELD_NUMBER: _ClassVar[int]
    CONVOLUTION_FIELD_NUMBER: _ClassVar[int]
    BATCH_NORM_FIELD_NUMBER: _ClassVar[int]
    POOLING_FIELD_NUMBER: _ClassVar[int]
    ACTIVATION_FIELD_NUMBER: _ClassVar[int]
    SOFTMAX_FIELD_NUMBER: _ClassVar[int]
    FLATTEN_FIELD_NUMBER: _ClassVar[int]
    RESHAPE_FIELD_NUMBER: _ClassVar[int]
    TRANSPOSE_FIELD_NUMBER: _ClassVar[int]
    CONCAT_FIELD_NUMBER: _ClassVar[int]
    ADD_FIELD_NUMBER: _ClassVar[int]
    MULTIPLY_FIELD_NUMBER: _ClassVar[int]
    DROPOUT_FIELD_NUMBER: _ClassVar[int]
    LAYER_NORM_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_FIELD_NUMBER: _ClassVar[int]
    ONNX_NODE_FIELD_NUMBER: _ClassVar[int]
    name: str
    inputs: _containers.RepeatedScalarFieldContainer[str]
    outputs: _containers.RepeatedScalarFieldContainer[str]
    is_updatable: bool
    inner_product: InnerProductLayer
    convolution: ConvolutionLayer
    batch_norm: BatchNormLayer
    pooling: PoolingLayer
    activation: ActivationLayer
    softmax: SoftmaxLayer
    flatten: FlattenLayer
    reshape: ReshapeLayer
    transpose: TransposeLayer
    concat: ConcatLayer
    add: AddLayer
    multiply: MultiplyLayer
    dropout: DropoutLayer
    layer_norm: LayerNormLayer
    embedding: EmbeddingLayer
    onnx_node: OnnxNodeLayer
    def __init__(self, name: _Optional[str] = ..., inputs: _Optional[_Iterable[str]] = ..., outputs: _Optional[_Iterable[str]] = ..., is_updatable: bool = ..., inner_product: _Optional[_Union[InnerProductLayer, _Mapping]] = ..., convolution: _Optional[_Union[ConvolutionLayer, _Mapping]] = ..., batch_norm: _Optional[_Union[BatchNormLayer, _Mapping]] = ..., pooling: _Optional[_Union[PoolingLayer, _Mapping]] = ..., activation: _Optional[_Union[ActivationLayer, _Mapping]] = ..., softmax: _Optional[_Union[SoftmaxLayer, _Mapping]] = ..., flatten: _Optional[_Union[FlattenLayer, _Mapping]] = ..., reshape: _Optional[_Union[ReshapeLayer, _Mapping]] = ..., transpose: _Optional[_Union[TransposeLayer, _Mapping]] = ..., concat: _Optional[_Union[ConcatLayer, _Mapping]] = ..., add: _Optional[_Union[AddLayer, _Mapping]] = ..., multiply: _Optional[_Union[MultiplyLayer, _Mapping]] = ..., dropout: _Optional[_Union[DropoutLayer, _Mapping]] = ..., layer_norm: _Optional[_Union[LayerNormLayer, _Mapping]] = ..., embedding: _Optional[_Union[EmbeddingLayer, _Mapping]] = ..., onnx_node: _Optional[_Union[OnnxNodeLayer, _Mapping]] = ...) -> None: ...

class InnerProductLayer(_message.Message):
    __slots__ = ("input_channels", "output_channels", "has_bias", "weights", "bias")
    INPUT_CHANNELS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_CHANNELS_FIELD_NUMBER: _ClassVar[int]
    HAS_BIAS_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    BIAS_FIELD_NUMBER: _ClassVar[int]
    input_channels: int
    output_channels: int
    has_bias: bool
    weights: _tensor_pb2.Tensor
    bias: _tensor_pb2.Tensor
    def __init__(self, input_channels: _Optional[int] = ..., output_channels: _Optional[int] = ..., has_bias: bool = ..., weights: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., bias: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ...) -> None: ...

class ValidPadding(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class SamePadding(_message.Message):
    __slots__ = ("lower",)
    LOWER_FIELD_NUMBER: _ClassVar[int]
    lower: bool
    def __init__(self, lower: bool = ...) -> None: ...

class ExplicitPadding(_message.Message):
    __slots__ = ("pads",)
    PADS_FIELD_NUMBER: _ClassVar[int]
    pads: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, pads: _Optional[_Iterable[int]] = ...) -> None: ...

class Padding(_message.Message):
    __slots__ = ("valid", "same", "explicit")
    VALID_FIELD_NUMBER: _ClassVar[int]
    SAME_FIELD_NUMBER: _ClassVar[int]
    EXPLICIT_FIELD_NUMBER: _ClassVar[int]
    valid: ValidPadding
    same: SamePadding
    explicit: ExplicitPadding
    def __init__(self, valid: _Optional[_Union[ValidPadding, _Mapping]] = ..., same: _Optional[_Union[SamePadding, _Mapping]] = ..., explicit: _Optional[_Union[ExplicitPadding, _Mapping]] = ...) -> None: ...

class ConvolutionLayer(_message.Message):
    __slots__ = ("input_channels", "output_channels", "kernel_shape", "strides", "dilations", "groups", "padding", "has_bias", "weights", "bias")
    INPUT_CHANNELS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_CHANNELS_FIELD_NUMBER: _ClassVar[int]
    KERNEL_SHAPE_FIELD_NUMBER: _ClassVar[int]
    STRIDES_FIELD_NUMBER: _ClassVar[int]
    DILATIONS_FIELD_NUMBER: _ClassVar[int]
    GROUPS_FIELD_NUMBER: _ClassVar[int]
    PADDING_FIELD_NUMBER: _ClassVar[int]
    HAS_BIAS_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    BIAS_FIELD_NUMBER: _ClassVar[int]
    input_channels: int
    output_channels: int
    kernel_shape: _containers.RepeatedScalarFieldContainer[int]
    strides: _containers.RepeatedScalarFieldContainer[int]
    dilations: _containers.RepeatedScalarFieldContainer[int]
    groups: int
    padding: Padding
    has_bias: bool
    weights: _tensor_pb2.Tensor
    bias: _tensor_pb2.Tensor
    def __init__(self, input_channels: _Optional[int] = ..., output_channels: _Optional[int] = ..., kernel_shape: _Optional[_Iterable[int]] = ..., strides: _Optional[_Iterable[int]] = ..., dilations: _Optional[_Iterable[int]] = ..., groups: _Optional[int] = ..., padding: _Optional[_Union[Padding, _Mapping]] = ..., has_bias: bool = ..., weights: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., bias: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ...) -> None: ...

class BatchNormLayer(_message.Message):
    __slots__ = ("channels", "epsilon", "momentum", "gamma", "beta", "running_mean", "running_variance", "biased_running_variance")
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    EPSILON_FIELD_NUMBER: _ClassVar[int]
    MOMENTUM_FIELD_NUMBER: _ClassVar[int]
    GAMMA_FIELD_NUMBER: _ClassVar[int]
    BETA_FIELD_NUMBER: _ClassVar[int]
    RUNNING_MEAN_FIELD_NUMBER: _ClassVar[int]
    RUNNING_VARIANCE_FIELD_NUMBER: _ClassVar[int]
    BIASED_RUNNING_VARIANCE_FIELD_NUMBER: _ClassVar[int]
    channels: int
    epsilon: float
    momentum: float
    gamma: _tensor_pb2.Tensor
    beta: _tensor_pb2.Tensor
    running_mean: _tensor_pb2.Tensor
    running_variance: _tensor_pb2.Tensor
    biased_running_variance: bool
    def __init__(self, channels: _Optional[int] = ..., epsilon: _Optional[float] = ..., momentum: _Optional[float] = ..., gamma: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., beta: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., running_mean: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., running_variance: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., biased_running_variance: bool = ...) -> None: ...

class PoolingLayer(_message.Message):
    __slots__ = ("type", "kernel_shape", "strides", "padding", "count_include_pad")
    class PoolingType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        POOLING_TYPE_UNSPECIFIED: _ClassVar[PoolingLayer.PoolingType]
        MAX: _ClassVar[PoolingLayer.PoolingType]
        AVERAGE: _ClassVar[PoolingLayer.PoolingType]
    POOLING_TYPE_UNSPECIFIED: PoolingLayer.PoolingType
    MAX: PoolingLayer.PoolingType
    AVERAGE: PoolingLayer.PoolingType
    TYPE_FIELD_NUMBER: _ClassVar[int]
    GLOBAL_FIELD_NUMBER: _ClassVar[int]
    KERNEL_SHAPE_FIELD_NUMBER: _ClassVar[int]
    STRIDES_FIELD_NUMBER: _ClassVar[int]
    PADDING_FIELD_NUMBER: _ClassVar[int]
    COUNT_INCLUDE_PAD_FIELD_NUMBER: _ClassVar[int]
    type: PoolingLayer.PoolingType
    kernel_shape: _containers.RepeatedScalarFieldContainer[int]
    strides: _containers.RepeatedScalarFieldContainer[int]
    padding: Padding
    count_include_pad: bool
    def __init__(self, type: _Optional[_Union[PoolingLayer.PoolingType, str]] = ..., kernel_shape: _Optional[_Iterable[int]] = ..., strides: _Optional[_Iterable[int]] = ..., padding: _Optional[_Union[Padding, _Mapping]] = ..., count_include_pad: bool = ..., **kwargs) -> None: ...

class ActivationLayer(_message.Message):
    __slots__ = ("type", "alpha", "beta", "approximate_tanh")
    class ActivationType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        ACTIVATION_TYPE_UNSPECIFIED: _ClassVar[ActivationLayer.ActivationType]
        RELU: _ClassVar[ActivationLayer.ActivationType]
        LEAKY_RELU: _ClassVar[ActivationLayer.ActivationType]
        SIGMOID: _ClassVar[ActivationLayer.ActivationType]
        TANH: _ClassVar[ActivationLayer.ActivationType]
        GELU: _ClassVar[ActivationLayer.ActivationType]
        ELU: _ClassVar[ActivationLayer.ActivationType]
        SOFTPLUS: _ClassVar[ActivationLayer.ActivationType]
        HARD_SIGMOID: _ClassVar[ActivationLayer.ActivationType]
        HARD_SWISH: _ClassVar[ActivationLayer.ActivationType]
        LINEAR: _ClassVar[ActivationLayer.ActivationType]
        CLIP: _ClassVar[ActivationLayer.ActivationType]
    ACTIVATION_TYPE_UNSPECIFIED: ActivationLayer.ActivationType
    RELU: ActivationLayer.ActivationType
    LEAKY_RELU: ActivationLayer.ActivationType
    SIGMOID: ActivationLayer.ActivationType
    TANH: ActivationLayer.ActivationType
    GELU: ActivationLayer.ActivationType
    ELU: ActivationLayer.ActivationType
    SOFTPLUS: ActivationLayer.ActivationType
    HARD_SIGMOID: ActivationLayer.ActivationType
    HARD_SWISH: ActivationLayer.ActivationType
    LINEAR: ActivationLayer.ActivationType
    CLIP: ActivationLayer.ActivationType
    TYPE_FIELD_NUMBER: _ClassVar[int]
    ALPHA_FIELD_NUMBER: _ClassVar[int]
    BETA_FIELD_NUMBER: _ClassVar[int]
    APPROXIMATE_TANH_FIELD_NUMBER: _ClassVar[int]
    type: ActivationLayer.ActivationType
    alpha: float
    beta: float
    approximate_tanh: bool
    def __init__(self, type: _Optional[_Union[ActivationLayer.ActivationType, str]] = ..., alpha: _Optional[float] = ..., beta: _Optional[float] = ..., approximate_tanh: bool = ...) -> None: ...

class SoftmaxLayer(_message.Message):
    __slots__ = ("axis",)
    AXIS_FIELD_NUMBER: _ClassVar[int]
    axis: int
    def __init__(self, axis: _Optional[int] = ...) -> None: ...

class FlattenLayer(_message.Message):
    __slots__ = ("axis",)
    AXIS_FIELD_NUMBER: _ClassVar[int]
    axis: int
    def __init__(self, axis: _Optional[int] = ...) -> None: ...

class ReshapeLayer(_message.Message):
    __slots__ = ("target_shape",)
    TARGET_SHAPE_FIELD_NUMBER: _ClassVar[int]
    target_shape: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, target_shape: _Optional[_Iterable[int]] = ...) -> None: ...

class TransposeLayer(_message.Message):
    __slots__ = ("perm",)
    PERM_FIELD_NUMBER: _ClassVar[int]
    perm: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, perm: _Optional[_Iterable[int]] = ...) -> None: ...

class ConcatLayer(_message.Message):
    __slots__ = ("axis",)
    AXIS_FIELD_NUMBER: _ClassVar[int]
    axis: int
    def __init__(self, axis: _Optional[int] = ...) -> None: ...

class AddLayer(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class MultiplyLayer(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class DropoutLayer(_message.Message):
    __slots__ = ("rate",)
    RATE_FIELD_NUMBER: _ClassVar[int]
    rate: float
    def __init__(self, rate: _Optional[float] = ...) -> None: ...

class LayerNormLayer(_message.Message):
    __slots__ = ("normalized_shape", "epsilon", "gamma", "beta")
    NORMALIZED_SHAPE_FIELD_NUMBER: _ClassVar[int]
    EPSILON_FIELD_NUMBER: _ClassVar[int]
    GAMMA_FIELD_NUMBER: _ClassVar[int]
    BETA_FIELD_NUMBER: _ClassVar[int]
    normalized_shape: _containers.RepeatedScalarFieldContainer[int]
    epsilon: float
    gamma: _tensor_pb2.Tensor
    beta: _tensor_pb2.Tensor
    def __init__(self, normalized_shape: _Optional[_Iterable[int]] = ..., epsilon: _Optional[float] = ..., gamma: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., beta: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ...) -> None: ...

class EmbeddingLayer(_message.Message):
    __slots__ = ("vocab_size", "embedding_dim", "weights")
    VOCAB_SIZE_FIELD_NUMBER: _ClassVar[int]
    EMBEDDING_DIM_FIELD_NUMBER: _ClassVar[int]
    WEIGHTS_FIELD_NUMBER: _ClassVar[int]
    vocab_size: int
    embedding_dim: int
    weights: _tensor_pb2.Tensor
    def __init__(self, vocab_size: _Optional[int] = ..., embedding_dim: _Optional[int] = ..., weights: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ...) -> None: ...

class OnnxNodeLayer(_message.Message):
    __slots__ = ("op_type", "domain", "attributes", "node_inputs", "constants", "output_types")
    OP_TYPE_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTES_FIELD_NUMBER: _ClassVar[int]
    NODE_INPUTS_FIELD_NUMBER: _ClassVar[int]
    CONSTANTS_FIELD_NUMBER: _ClassVar[int]
    OUTPUT_TYPES_FIELD_NUMBER: _ClassVar[int]
    op_type: str
    domain: str
    attributes: _containers.RepeatedScalarFieldContainer[bytes]
    node_inputs: _containers.RepeatedScalarFieldContainer[str]
    constants: _containers.RepeatedCompositeFieldContainer[_tensor_pb2.NamedTensor]
    output_types: _containers.RepeatedCompositeFieldContainer[_tensor_pb2.TensorType]
    def __init__(self, op_type: _Optional[str] = ..., domain: _Optional[str] = ..., attributes: _Optional[_Iterable[bytes]] = ..., node_inputs: _Optional[_Iterable[str]] = ..., constants: _Optional[_Iterable[_Union[_tensor_pb2.NamedTensor, _Mapping]]] = ..., output_types: _Optional[_Iterable[_Union[_tensor_pb2.TensorType, _Mapping]]] = ...) -> None: ...
