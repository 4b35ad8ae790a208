"""The training runtime: mlspec's MLUpdateTask over ONNX Runtime training artifacts.

Start with `Trainer.from_spec(path, **overrides)` or `Trainer.from_artifacts(dir, spec=...)`,
then `train(data, validation=..., callbacks=[...], checkpoint_dir=..., resume=...)`,
`evaluate`, `predict`, `updated_model` and `save`. Data may be arrays, a dict of arrays, an
`.npz` path or a `BatchProvider`; see `mlspec.runtime.data`.
"""

from mlspec.runtime.checkpoints import CheckpointError
from mlspec.runtime.data import BatchProvider, DataError
from mlspec.runtime.events import Callback, TrainingContext, TrainingEvent
from mlspec.runtime.hyperparams import ALIASES, HyperparameterError, Hyperparameters
from mlspec.runtime.knn import add_examples, remove_examples
from mlspec.runtime.results import EvaluationResult, TrainingResult
from mlspec.runtime.trainer import Trainer

__all__ = [
    "ALIASES",
    "BatchProvider",
    "Callback",
    "CheckpointError",
    "DataError",
    "EvaluationResult",
    "HyperparameterError",
    "Hyperparameters",
    "Trainer",
    "TrainingContext",
    "TrainingEvent",
    "TrainingResult",
    "add_examples",
    "remove_examples",
]
