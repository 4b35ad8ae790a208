"""The federated tests' model and data: the federated example's MLP on scikit-learn's 8x8 digits
(shipped in its wheel), so the tests measure exactly what the example's README reports."""

from __future__ import annotations

from tests.examples.loader import load_example

_example = load_example("federated")
digits = _example.digits
mlp = _example.mlp
