"""Validation: every rule a spec must satisfy, reported all at once.

Rules are grouped by concern, one module each; `find_problems` runs them all so that a user
fixing a spec sees every problem in one pass rather than one per attempt.

Core ML's update-model validator is the floor: every rule it has is here (spec version,
trainable kinds, flagged weights, loss placement, each hyperparameter, training inputs). mlspec
deliberately allows more in these places:
- several losses, each with a weight, of five kinds, on probabilities or on logits;
- gradients pass through every kind the catalogue marks `passes_gradient` (concat, add,
  multiply, reshape, flatten, transpose, pooling, batch and layer norm, dropout, activations),
  not only through the few layers Core ML accepts between a loss and an updatable layer;
- batch_norm, layer_norm and embedding layers can be updatable, besides dense and convolution;
- every value a later user may choose (range ends, set members) is checked, not only defaults.
"""

from __future__ import annotations

from mlspec._proto import model_pb2
from mlspec.spec.errors import Problem, ValidationError
from mlspec.spec.validate import graph, hyperparameters, inputs, knn, losses, tensors, updatable
from mlspec.spec.validate.context import Context

__all__ = ["find_problems", "validate"]


def find_problems(model: model_pb2.Model) -> list[Problem]:
    """Every problem in the spec, in a stable order: graph, features, shapes, weights, training."""
    if model.HasField("knn_classifier"):
        return [*graph.version_problems(model), *knn.check(model, find_problems)]
    context = Context.of(model)
    required = model.is_updatable
    return [
        *graph.check(context),
        *inputs.check(context),
        *context.shapes.problems,
        *tensors.check(context),
        *updatable.check(context),
        *losses.check(context),
        *hyperparameters.check(model.update_parameters, required=required),
    ]


def validate(model: model_pb2.Model) -> None:
    """Raise ValidationError listing every problem, or return quietly for a valid spec."""
    problems = find_problems(model)
    if problems:
        raise ValidationError(problems)
