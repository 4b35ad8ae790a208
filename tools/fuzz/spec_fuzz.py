"""Long fuzzing run of specs: load -> validate -> (if valid) convert, on mutated spec files.

The seeds are small specs made with the builder (a dense classifier, a CNN with batch norm and
pooling, a generic ONNX MaxPool node, a sequence model with embedding and layer norm), all
updatable so that a mutant that still validates is converted to training artifacts as well.
Mutants come from tools.fuzz.mutators (field-level bends of every schema field, plus byte-level
damage) and are written with the spec header, so the wire decoder and every rule are reached.
The driver, workers, outcome labels and summary are import_fuzz's: run from the repository root

    nice -n 19 .venv/bin/python -m tools.fuzz.import_fuzz --kind spec --count 100000 --seconds 3600

and it prints the count, outcomes by kind, signals, peak RSS and time, exiting 1 when any input
ended other than ok or error:* (an internal error, a signal or a hang).
"""

from __future__ import annotations

import struct
import tempfile
from pathlib import Path

from mlspec._proto import tensor_pb2
from mlspec.builder import NetworkBuilder, SgdParams
from mlspec.spec.io import MAGIC


def _finish(builder: NetworkBuilder, updatable: list[str], loss_input: str) -> bytes:
    builder.make_updatable(updatable)
    builder.set_loss("categorical_cross_entropy", loss_input)
    builder.set_optimizer(SgdParams(lr=0.1, batch=2))
    builder.set_epochs(1, [1, 2])
    return builder.spec.SerializeToString()


def spec_seeds() -> list[bytes]:
    """Serialized Model payloads (without the file header) to mutate."""
    dense = NetworkBuilder(class_labels=["a", "b", "c"], seed=0)
    dense.add_input("x", [4])
    dense.add_inner_product("fc1", "x", 5)
    dense.add_activation("relu", "fc1", "relu")
    dense.add_inner_product("fc2", "relu", 3)
    dense.add_softmax("probs", "fc2")
    cnn = NetworkBuilder(class_labels=["a", "b"], seed=1)
    cnn.add_input("image", [1, 6, 6])
    cnn.add_convolution("conv", "image", 2, (3, 3), padding="same")
    cnn.add_batch_norm("bn", "conv")
    cnn.add_pooling("pool", "bn", "max", (2, 2))
    cnn.add_flatten("flat", "pool")
    cnn.add_inner_product("fc", "flat", 2)
    cnn.add_softmax("probs", "fc")
    node = NetworkBuilder(class_labels=["a", "b"], seed=2)
    node.add_input("image", [1, 4, 4])
    pool_attributes = [_ints("kernel_shape", [2, 2]), _ints("strides", [2, 2])]
    node.add_onnx_node(
        "pool",
        ["image"],
        "MaxPool",
        output_types=[(tensor_pb2.FLOAT32, ["batch", 1, 2, 2])],
        attributes=pool_attributes,
    )
    node.add_flatten("flat", "pool")
    node.add_inner_product("fc", "flat", 2)
    node.add_softmax("probs", "fc")
    sequence = NetworkBuilder(class_labels=["a", "b"], seed=3)
    sequence.add_input("tokens", [3], dtype="int64")
    sequence.add_embedding("embed", "tokens", vocab_size=7, embedding_dim=4)
    sequence.add_layer_norm("norm", "embed", normalized_shape=[4])
    sequence.add_flatten("flat", "norm")
    sequence.add_inner_product("fc", "flat", 2)
    sequence.add_softmax("probs", "fc")
    return [
        _finish(dense, ["fc1", "fc2"], "probs"),
        _finish(cnn, ["conv", "bn", "fc"], "probs"),
        _finish(node, ["fc"], "probs"),
        _finish(sequence, ["embed", "norm", "fc"], "probs"),
    ]


def _ints(name: str, values: list[int]) -> bytes:
    import onnx  # noqa: PLC0415

    return bytes(onnx.helper.make_attribute(name, values).SerializeToString())


def as_file(payload: bytes) -> bytes:
    """A mutated payload as a .mlspec file: header first, with the payload's true length."""
    return MAGIC + struct.pack("<Q", len(payload)) + payload


class ValidButUnconvertibleError(Exception):
    """A spec that validate accepted failed to convert: validate's promise is broken.

    Deliberately not an MlspecError, so the driver never counts it as a good outcome; the
    convert error is chained as the cause."""


def load_validate_convert(path: Path) -> None:
    """What every spec-reading command does first; a valid spec must also convert."""
    from mlspec.backends import to_training_artifacts  # noqa: PLC0415
    from mlspec.spec.io import load  # noqa: PLC0415
    from mlspec.spec.validate import validate  # noqa: PLC0415

    spec = load(path)
    validate(spec)  # the ValidationError names every problem
    with tempfile.TemporaryDirectory(prefix="mlspec-fuzz-out-") as folder:
        try:
            to_training_artifacts(spec, Path(folder) / "artifacts")
        except Exception as exc:
            raise ValidButUnconvertibleError(f"validates but convert fails: {exc}") from exc
