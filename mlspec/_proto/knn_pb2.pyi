from mlspec._proto import parameters_pb2 as _parameters_pb2
from mlspec._proto import tensor_pb2 as _tensor_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class KnnDistance(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    KNN_DISTANCE_EUCLIDEAN: _ClassVar[KnnDistance]
    KNN_DISTANCE_COSINE: _ClassVar[KnnDistance]

class KnnWeighting(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    KNN_WEIGHTING_UNIFORM: _ClassVar[KnnWeighting]
    KNN_WEIGHTING_INVERSE_DISTANCE: _ClassVar[KnnWeighting]

class KnnVoteTie(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    KNN_VOTE_TIE_SMALLEST_LABEL: _ClassVar[KnnVoteTie]
    KNN_VOTE_TIE_FIRST_LABEL: _ClassVar[KnnVoteTie]
KNN_DISTANCE_EUCLIDEAN: KnnDistance
KNN_DISTANCE_COSINE: KnnDistance
KNN_WEIGHTING_UNIFORM: KnnWeighting
KNN_WEIGHTING_INVERSE_DISTANCE: KnnWeighting
KNN_VOTE_TIE_SMALLEST_LABEL: KnnVoteTie
KNN_VOTE_TIE_FIRST_LABEL: KnnVoteTie

class KNearestNeighborsClassifier(_message.Message):
    __slots__ = ("feature_name", "dimensions", "examples", "example_labels", "number_of_neighbors", "distance", "weighting", "vote_tie", "default_string_label", "default_int64_label")
    FEATURE_NAME_FIELD_NUMBER: _ClassVar[int]
    DIMENSIONS_FIELD_NUMBER: _ClassVar[int]
    EXAMPLES_FIELD_NUMBER: _ClassVar[int]
    EXAMPLE_LABELS_FIELD_NUMBER: _ClassVar[int]
    NUMBER_OF_NEIGHBORS_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    WEIGHTING_FIELD_NUMBER: _ClassVar[int]
    VOTE_TIE_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_STRING_LABEL_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_INT64_LABEL_FIELD_NUMBER: _ClassVar[int]
    feature_name: str
    dimensions: int
    examples: _tensor_pb2.Tensor
    example_labels: _tensor_pb2.Tensor
    number_of_neighbors: _parameters_pb2.Int64Parameter
    distance: KnnDistance
    weighting: KnnWeighting
    vote_tie: KnnVoteTie
    default_string_label: str
    default_int64_label: int
    def __init__(self, feature_name: _Optional[str] = ..., dimensions: _Optional[int] = ..., examples: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., example_labels: _Optional[_Union[_tensor_pb2.Tensor, _Mapping]] = ..., number_of_neighbors: _Optional[_Union[_parameters_pb2.Int64Parameter, _Mapping]] = ..., distance: _Optional[_Union[KnnDistance, str]] = ..., weighting: _Optional[_Union[KnnWeighting, str]] = ..., vote_tie: _Optional[_Union[KnnVoteTie, str]] = ..., default_string_label: _Optional[str] = ..., default_int64_label: _Optional[int] = ...) -> None: ...
