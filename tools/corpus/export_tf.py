"""Export the TensorFlow member of the import corpus: a small Keras CNN through tf2onnx.

Runs in the corpus's TensorFlow side venv. Random weights; the input is NHWC as Keras writes it,
so the ONNX file carries tf2onnx's Transpose and its batch-norm spelling (Mul/Add of constants).

Usage: export_tf.py OUT_DIR
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import tensorflow as tf
import tf2onnx


def main() -> None:
    out = Path(sys.argv[1])
    out.mkdir(parents=True, exist_ok=True)
    tf.random.set_seed(7)
    layers = tf.keras.layers
    model = tf.keras.Sequential(
        [
            tf.keras.Input(shape=(32, 32, 3)),
            layers.Conv2D(8, 3, padding="same"),
            layers.BatchNormalization(),
            layers.ReLU(),
            layers.MaxPooling2D(2),
            layers.Conv2D(16, 3, padding="same", activation="relu"),
            layers.GlobalAveragePooling2D(),
            layers.Dense(32, activation="relu"),
            layers.Dense(5, activation="softmax"),
        ]
    )
    spec = (tf.TensorSpec((None, 32, 32, 3), tf.float32, name="image"),)

    @tf.function(input_signature=spec)  # type: ignore[untyped-decorator]
    def forward(image: tf.Tensor) -> tf.Tensor:
        return model(image, training=False)

    tf2onnx.convert.from_function(
        forward, input_signature=spec, opset=17, output_path=str(out / "keras_cnn.onnx")
    )
    sidecar = {
        "source": f"tensorflow {tf.__version__} Keras Sequential CNN through tf2onnx {tf2onnx.__version__}",
        "feeds": [{"name": "image", "dtype": "float32", "shape": [2, 32, 32, 3]}],
        "classifier": "probabilities",
    }
    (out / "keras_cnn.json").write_text(json.dumps(sidecar, indent=1))
    print("exported keras_cnn", flush=True)


if __name__ == "__main__":
    main()
