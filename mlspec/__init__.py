"""mlspec: declarative specs for models that keep learning after deployment.

The protobuf `Model` message is the single source of truth; this package gives the functions
people reach for first. Heavier parts (builder, converter, runtime) live in their subpackages.
"""

from mlspec._proto.model_pb2 import Model
from mlspec.spec.errors import MlspecError, Problem, SpecLoadError, ValidationError
from mlspec.spec.io import SPEC_VERSION, load, save
from mlspec.spec.validate import find_problems, validate

__all__ = [
    "SPEC_VERSION",
    "MlspecError",
    "Model",
    "Problem",
    "SpecLoadError",
    "ValidationError",
    "find_problems",
    "load",
    "save",
    "validate",
]
__version__ = "0.1.0"
