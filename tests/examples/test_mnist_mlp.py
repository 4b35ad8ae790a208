"""The MNIST-tutorial MLP: 95% on scikit-learn's digits, and real IDX files go through the loader."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlspec.reference import evaluate
from tests.examples.loader import load_example
from tests.examples.test_datasets import write_mnist

mnist_mlp = load_example("mnist_mlp")


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_sklearn_digits_reach_ninety_five_percent(optimizer: str) -> None:
    outcome = mnist_mlp.main(["--optimizer", optimizer])
    assert outcome.test_accuracy >= 0.95
    assert outcome.epochs == 30 and outcome.epoch_losses[-1] < outcome.epoch_losses[0] / 5
    # The same split, judged by the numpy reference rather than the trainer's eval model.
    data = mnist_mlp.sklearn_digits(seed=0)
    assert len(data.train_y) + len(data.test_y) == 1797
    assert set(np.unique(data.test_y).tolist()) == set(range(10))
    probabilities = evaluate(outcome.model, {"pixels": data.test_x})["probabilities"]
    reference_accuracy = float(np.mean(np.argmax(probabilities, axis=1) == data.test_y))
    assert reference_accuracy == pytest.approx(outcome.test_accuracy, abs=1e-9)


def test_widths_follow_the_data() -> None:
    spec = mnist_mlp.build_spec(784, "adam", 1, 0)
    dense = [
        layer.inner_product for layer in spec.network.layers if layer.WhichOneof("kind") == "inner_product"
    ]
    assert [(d.input_channels, d.output_channels) for d in dense] == [(784, 128), (128, 64), (64, 10)]
    sgd = mnist_mlp.build_spec(64, "sgd", 1, 0).update_parameters.optimizer
    assert sgd.WhichOneof("kind") == "sgd" and sgd.sgd.momentum.default_value == pytest.approx(0.9)


def test_mnist_directory_of_idx_files_trains(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pixels, labels = write_mnist(tmp_path, "train", 40, gz=True)
    write_mnist(tmp_path, "t10k", 20, gz=False)
    data = mnist_mlp.mnist(tmp_path)
    assert data.train_x.shape == (40, 784) and data.test_x.shape == (20, 784)
    np.testing.assert_allclose(data.train_x.reshape(-1), np.array(pixels, dtype=np.float32) / 255.0)
    assert data.train_y.tolist() == labels
    outcome = mnist_mlp.main(["--mnist", str(tmp_path), "--epochs", "2"])
    assert outcome.epochs == 2 and 0.0 <= outcome.test_accuracy <= 1.0
    assert "40 training and 20 test examples" in capsys.readouterr().out


def test_a_folder_without_idx_files_is_one_line_naming_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        mnist_mlp.main(["--mnist", str(tmp_path)])
    assert exit_info.value.code == 1
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith(f"error: {tmp_path}: no train images file")
