from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class DataType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DATA_TYPE_UNSPECIFIED: _ClassVar[DataType]
    FLOAT32: _ClassVar[DataType]
    FLOAT16: _ClassVar[DataType]
    INT64: _ClassVar[DataType]
    INT32: _ClassVar[DataType]
    DOUBLE: _ClassVar[DataType]
    INT8: _ClassVar[DataType]
    UINT8: _ClassVar[DataType]
    BOOL: _ClassVar[DataType]

class ColorSpace(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    COLOR_SPACE_UNSPECIFIED: _ClassVar[ColorSpace]
    COLOR_SPACE_GRAY: _ClassVar[ColorSpace]
    COLOR_SPACE_RGB: _ClassVar[ColorSpace]
    COLOR_SPACE_BGR: _ClassVar[ColorSpace]
DATA_TYPE_UNSPECIFIED: DataType
FLOAT32: DataType
FLOAT16: DataType
INT64: DataType
INT32: DataType
DOUBLE: DataType
INT8: DataType
UINT8: DataType
BOOL: DataType
COLOR_SPACE_UNSPECIFIED: ColorSpace
COLOR_SPACE_GRAY: ColorSpace
COLOR_SPACE_RGB: ColorSpace
COLOR_SPACE_BGR: ColorSpace

class ExternalData(_message.Message):
    __slots__ = ("location", "offset", "length")
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LENGTH_FIELD_NUMBER: _ClassVar[int]
    location: str
    offset: int
    length: int
    def __init__(self, location: _Optional[str] = ..., offset: _Optional[int] = ..., length: _Optional[int] = ...) -> None: ...

class Tensor(_message.Message):
    __slots__ = ("dtype", "shape", "raw_data", "external", "is_updatable")
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    RAW_DATA_FIELD_NUMBER: _ClassVar[int]
    EXTERNAL_FIELD_NUMBER: _ClassVar[int]
    IS_UPDATABLE_FIELD_NUMBER: _ClassVar[int]
    dtype: DataType
    shape: _containers.RepeatedScalarFieldContainer[int]
    raw_data: bytes
    external: ExternalData
    is_updatable: bool
    def __init__(self, dtype: _Optional[_Union[DataType, str]] = ..., shape: _Optional[_Iterable[int]] = ..., raw_data: _Optional[bytes] = ..., external: _Optional[_Union[ExternalData, _Mapping]] = ..., is_updatable: bool = ...) -> None: ...

class NamedTensor(_message.Message):
    __slots__ = ("name", "tensor")
    NAME_FIELD_NUMBER: _ClassVar[int]
    TENSOR_FIELD_NUMBER: _ClassVar[int]
    name: str
    tensor: Tensor
    def __init__(self, name: _Optional[str] = ..., tensor: _Optional[_Union[Tensor, _Mapping]] = ...) -> None: ...

class Dimension(_message.Message):
    __slots__ = ("size", "symbol")
    SIZE_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    size: int
    symbol: str
    def __init__(self, size: _Optional[int] = ..., symbol: _Optional[str] = ...) -> None: ...

class TensorType(_message.Message):
    __slots__ = ("dtype", "shape")
    DTYPE_FIELD_NUMBER: _ClassVar[int]
    SHAPE_FIELD_NUMBER: _ClassVar[int]
    dtype: DataType
    shape: _containers.RepeatedCompositeFieldContainer[Dimension]
    def __init__(self, dtype: _Optional[_Union[DataType, str]] = ..., shape: _Optional[_Iterable[_Union[Dimension, _Mapping]]] = ...) -> None: ...

class StringType(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Int64Type(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class FeatureType(_message.Message):
    __slots__ = ("tensor", "string_type", "int64_type")
    TENSOR_FIELD_NUMBER: _ClassVar[int]
    STRING_TYPE_FIELD_NUMBER: _ClassVar[int]
    INT64_TYPE_FIELD_NUMBER: _ClassVar[int]
    tensor: TensorType
    string_type: StringType
    int64_type: Int64Type
    def __init__(self, tensor: _Optional[_Union[TensorType, _Mapping]] = ..., string_type: _Optional[_Union[StringType, _Mapping]] = ..., int64_type: _Optional[_Union[Int64Type, _Mapping]] = ...) -> None: ...

class ImagePreprocessing(_message.Message):
    __slots__ = ("scale", "bias")
    SCALE_FIELD_NUMBER: _ClassVar[int]
    BIAS_FIELD_NUMBER: _ClassVar[int]
    scale: _containers.RepeatedScalarFieldContainer[float]
    bias: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, scale: _Optional[_Iterable[float]] = ..., bias: _Optional[_Iterable[float]] = ...) -> None: ...

class ImageType(_message.Message):
    __slots__ = ("width", "height", "color_space", "preprocessing")
    WIDTH_FIELD_NUMBER: _ClassVar[int]
    HEIGHT_FIELD_NUMBER: _ClassVar[int]
    COLOR_SPACE_FIELD_NUMBER: _ClassVar[int]
    PREPROCESSING_FIELD_NUMBER: _ClassVar[int]
    width: int
    height: int
    color_space: ColorSpace
    preprocessing: ImagePreprocessing
    def __init__(self, width: _Optional[int] = ..., height: _Optional[int] = ..., color_space: _Optional[_Union[ColorSpace, str]] = ..., preprocessing: _Optional[_Union[ImagePreprocessing, _Mapping]] = ...) -> None: ...

class FeatureDescription(_message.Message):
    __slots__ = ("name", "short_description", "type", "image")
    NAME_FIELD_NUMBER: _ClassVar[int]
    SHORT_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    IMAGE_FIELD_NUMBER: _ClassVar[int]
    name: str
    short_description: str
    type: FeatureType
    image: ImageType
    def __init__(self, name: _Optional[str] = ..., short_description: _Optional[str] = ..., type: _Optional[_Union[FeatureType, _Mapping]] = ..., image: _Optional[_Union[ImageType, _Mapping]] = ...) -> None: ...
