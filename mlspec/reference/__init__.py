"""A numpy forward pass of a spec, layer by layer: for debugging and as the converter's yardstick.

Depends on mlspec.spec only, so the builder can use it to check surgery and the converter's
tests can judge the ONNX emitters against it.
"""

from mlspec.reference.evaluate import LAYER_FUNCTIONS, evaluate

__all__ = ["LAYER_FUNCTIONS", "evaluate"]
