from mlspec._proto import knn_pb2 as _knn_pb2
from mlspec._proto import layers_pb2 as _layers_pb2
from mlspec._proto import tensor_pb2 as _tensor_pb2
from mlspec._proto import training_pb2 as _training_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Model(_message.Message):
    __slots__ = ("spec_version", "description", "metadata", "classifier", "network", "is_updatable", "update_parameters", "knn_classifier")
    SPEC_VERSION_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    CLASSIFIER_FIELD_NUMBER: _ClassVar[int]
    NETWORK_FIELD_NUMBER: _ClassVar[int]
    IS_UPDATABLE_FIELD_NUMBER: _ClassVar[int]
    UPDATE_PARAMETERS_FIELD_NUMBER: _ClassVar[int]
    KNN_CLASSIFIER_FIELD_NUMBER: _ClassVar[int]
    spec_version: int
    description: ModelDescription
    metadata: Metadata
    classifier: ClassifierInfo
    network: _layers_pb2.NeuralNetwork
    is_updatable: bool
    update_parameters: _training_pb2.UpdateParameters
    knn_classifier: _knn_pb2.KNearestNeighborsClassifier
    def __init__(self, spec_version: _Optional[int] = ..., description: _Optional[_Union[ModelDescription, _Mapping]] = ..., metadata: _Optional[_Union[Metadata, _Mapping]] = ..., classifier: _Optional[_Union[ClassifierInfo, _Mapping]] = ..., network: _Optional[_Union[_layers_pb2.NeuralNetwork, _Mapping]] = ..., is_updatable: bool = ..., update_parameters: _Optional[_Union[_training_pb2.UpdateParameters, _Mapping]] = ..., knn_classifier: _Optional[_Union[_knn_pb2.KNearestNeighborsClassifier, _Mapping]] = ...) -> None: ...

class ModelDescription(_message.Message):
    __slots__ = ("inputs", "outputs", "training_inputs")
    INPUTS_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    TRAINING_INPUTS_FIELD_NUMBER: _ClassVar[int]
    inputs: _containers.RepeatedCompositeFieldContainer[_tensor_pb2.FeatureDescription]
    outputs: _containers.RepeatedCompositeFieldContainer[_tensor_pb2.FeatureDescription]
    training_inputs: _containers.RepeatedCompositeFieldContainer[_tensor_pb2.FeatureDescription]
    def __init__(self, inputs: _Optional[_Iterable[_Union[_tensor_pb2.FeatureDescription, _Mapping]]] = ..., outputs: _Optional[_Iterable[_Union[_tensor_pb2.FeatureDescription, _Mapping]]] = ..., training_inputs: _Optional[_Iterable[_Union[_tensor_pb2.FeatureDescription, _Mapping]]] = ...) -> None: ...

class Metadata(_message.Message):
    __slots__ = ("name", "author", "license", "version", "short_description", "user_defined")
    class UserDefinedEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    NAME_FIELD_NUMBER: _ClassVar[int]
    AUTHOR_FIELD_NUMBER: _ClassVar[int]
    LICENSE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    SHORT_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    USER_DEFINED_FIELD_NUMBER: _ClassVar[int]
    name: str
    author: str
    license: str
    version: str
    short_description: str
    user_defined: _containers.ScalarMap[str, str]
    def __init__(self, name: _Optional[str] = ..., author: _Optional[str] = ..., license: _Optional[str] = ..., version: _Optional[str] = ..., short_description: _Optional[str] = ..., user_defined: _Optional[_Mapping[str, str]] = ...) -> None: ...

class StringLabels(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, values: _Optional[_Iterable[str]] = ...) -> None: ...

class Int64Labels(_message.Message):
    __slots__ = ("values",)
    VALUES_FIELD_NUMBER: _ClassVar[int]
    values: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, values: _Optional[_Iterable[int]] = ...) -> None: ...

class ClassifierInfo(_message.Message):
    __slots__ = ("string_labels", "int64_labels", "predicted_feature_name", "predicted_probabilities_name")
    STRING_LABELS_FIELD_NUMBER: _ClassVar[int]
    INT64_LABELS_FIELD_NUMBER: _ClassVar[int]
    PREDICTED_FEATURE_NAME_FIELD_NUMBER: _ClassVar[int]
    PREDICTED_PROBABILITIES_NAME_FIELD_NUMBER: _ClassVar[int]
    string_labels: StringLabels
    int64_labels: Int64Labels
    predicted_feature_name: str
    predicted_probabilities_name: str
    def __init__(self, string_labels: _Optional[_Union[StringLabels, _Mapping]] = ..., int64_labels: _Optional[_Union[Int64Labels, _Mapping]] = ..., predicted_feature_name: _Optional[str] = ..., predicted_probabilities_name: _Optional[str] = ...) -> None: ...
