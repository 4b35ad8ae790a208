"""make-updatable, widen-classifier and reinit: what lands in the written spec."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto

from mlspec._proto import model_pb2
from mlspec.builder import INIT_NAMES
from mlspec.cli.edit_commands import Init
from mlspec.spec import graph
from mlspec.spec.io import load
from tests.cli import specs
from tests.cli.conftest import assert_one_line_failure, invoke
from tests.importers.onnx_models import GraphBuilder


def _run(*args: object) -> model_pb2.Model:
    output = Path(str(args[0])).with_name("out.mlspec")
    result = invoke(*args[1:2], args[0], *args[2:], "-o", output)
    assert result.exit_code == 0, result.output
    return load(output)


def _updatable_layers(spec: model_pb2.Model) -> list[str]:
    return [layer.name for layer in spec.network.layers if layer.is_updatable]


def test_defaults_train_the_head_with_cross_entropy(classifier_path: Path) -> None:
    spec = _run(classifier_path, "make-updatable")
    update = spec.update_parameters
    assert _updatable_layers(spec) == ["fc2"]
    assert [(loss.WhichOneof("kind"), loss.input, loss.target) for loss in update.loss_layers] == [
        ("categorical_cross_entropy", "probs", "label")
    ]
    assert update.optimizer.WhichOneof("kind") == "sgd"
    assert update.epochs.default_value == 10
    # Allowed values nobody named are wide, so train's flags work (coremltools pins the default).
    assert (update.epochs.range.min, update.epochs.range.max) == (1, 1000)
    sgd = update.optimizer.sgd
    assert (sgd.learning_rate.range.min, sgd.learning_rate.range.max) == (0.0, 1.0)
    assert (sgd.mini_batch_size.range.min, sgd.mini_batch_size.range.max) == (1, 1024)
    assert [f.name for f in spec.description.training_inputs] == ["x", "label"]


def test_train_flags_work_on_a_spec_made_updatable_without_allowed_values(
    classifier_path: Path, tmp_path: Path
) -> None:
    updatable = tmp_path / "u.mlspec"
    assert invoke("make-updatable", classifier_path, "-o", updatable).exit_code == 0
    data = specs.write_blobs(tmp_path / "d.npz", 20)
    args = ["--epochs", "1", "--batch-size", "5", "--lr", "0.05", "-o", tmp_path / "out.mlspec"]
    result = invoke("train", updatable, "--data", data, *args)
    assert result.exit_code == 0, result.output
    assert "1 epoch, 4 steps" in result.stdout


def test_every_option_reaches_the_spec(classifier_path: Path) -> None:
    spec = _run(
        classifier_path,
        "make-updatable",
        *("--layers", "fc1,bn,fc2", "--optimizer", "adam", "--lr", "0.01", "--lr-range", "0.001:0.1"),
        *("--batch-size", "8", "--batch-sizes", "4,8", "--epochs", "5", "--epochs-allowed", "1,5,10"),
        *("--beta1", "0.8", "--beta2", "0.99", "--eps", "1e-7", "--weight-decay", "0.01"),
        *("--clip-norm", "2", "--no-shuffle", "--seed", "7"),
    )
    update = spec.update_parameters
    adam = update.optimizer.adam
    assert _updatable_layers(spec) == ["fc1", "bn", "fc2"]
    assert (adam.learning_rate.default_value, adam.learning_rate.range.min, adam.learning_rate.range.max) == (
        0.01,
        0.001,
        0.1,
    )
    assert adam.mini_batch_size.default_value == 8 and list(adam.mini_batch_size.set.values) == [4, 8]
    assert (adam.beta1.default_value, adam.beta2.default_value, adam.eps.default_value) == (0.8, 0.99, 1e-7)
    assert adam.weight_decay.default_value == 0.01
    assert update.epochs.default_value == 5 and list(update.epochs.set.values) == [1, 5, 10]
    assert update.clipping.max_norm.default_value == 2.0
    assert update.shuffle.default_value is False
    assert update.seed.default_value == 7


def test_sgd_settings_and_an_epoch_range(classifier_path: Path) -> None:
    spec = _run(
        classifier_path,
        "make-updatable",
        *(
            "--optimizer",
            "sgd",
            "--momentum",
            "0.9",
            "--nesterov",
            "--epochs",
            "20",
            "--epochs-range",
            "1:100",
        ),
        *("--clip-value", "0.5", "--shuffle"),
    )
    update = spec.update_parameters
    assert update.optimizer.sgd.momentum.default_value == 0.9
    assert update.optimizer.sgd.nesterov.default_value is True
    assert (update.epochs.range.min, update.epochs.range.max) == (1, 100)
    assert update.clipping.max_value.default_value == 0.5
    assert update.shuffle.default_value is True


def test_a_regressor_takes_mse_on_its_output(tmp_path: Path) -> None:
    model = specs.write(specs.regressor(), tmp_path / "regressor.mlspec")
    spec = _run(model, "make-updatable", "--loss", "mse")
    loss = spec.update_parameters.loss_layers[0]
    assert (loss.WhichOneof("kind"), loss.input) == ("mean_squared_error", "out")
    assert loss.target in [f.name for f in spec.description.training_inputs]


def test_settings_not_given_are_kept(updatable_path: Path) -> None:
    before = load(updatable_path)
    spec = _run(updatable_path, "make-updatable", "--layers", "fc1")
    assert spec.update_parameters == before.update_parameters
    assert _updatable_layers(spec) == ["fc1", "bn", "fc2"]


def test_widen_keeps_old_rows_and_adds_zero_rows_and_labels(classifier_path: Path) -> None:
    before = specs.tensor_values(load(classifier_path))
    spec = _run(
        classifier_path, "widen-classifier", "--layer", "fc2", "--classes", "5", "--labels", "owl,bee"
    )
    after = specs.tensor_values(spec)
    assert after["fc2.weights"].shape == (5, 8)
    np.testing.assert_array_equal(after["fc2.weights"][:3], before["fc2.weights"])
    np.testing.assert_array_equal(after["fc2.bias"][:3], before["fc2.bias"])
    assert not after["fc2.weights"][3:].any() and not after["fc2.bias"][3:].any()
    assert graph.class_labels(spec) == ["cat", "dog", "fish", "owl", "bee"]


def test_widen_finds_the_layer_draws_rows_and_names_placeholders(classifier_path: Path) -> None:
    spec = _run(
        classifier_path, "widen-classifier", "--classes", "4", "--init", "kaiming-uniform", "--seed", "3"
    )
    new_row = specs.tensor_values(spec)["fc2.weights"][3]
    bound = math.sqrt(6.0 / 8)
    assert new_row.any() and np.all(np.abs(new_row) <= bound)
    assert graph.class_labels(spec) == ["cat", "dog", "fish", "user0"]


def test_reinit_redraws_within_the_initialiser_bounds_reproducibly(
    classifier_path: Path, tmp_path: Path
) -> None:
    before = specs.tensor_values(load(classifier_path))
    drawn = []
    for seed in ("5", "5", "6"):
        spec = _run(classifier_path, "reinit", "--layer", "fc2", "--init", "xavier-uniform", "--seed", seed)
        drawn.append(specs.tensor_values(spec)["fc2.weights"])
        assert specs.changed_tensors(load(classifier_path), spec) == {"fc2.weights", "fc2.bias"}
        assert not specs.tensor_values(spec)["fc2.bias"].any()  # xavier starts biases at zero
    bound = math.sqrt(6.0 / (8 + 3))
    assert np.all(np.abs(drawn[0]) <= bound) and not np.array_equal(drawn[0], before["fc2.weights"])
    np.testing.assert_array_equal(drawn[0], drawn[1])
    assert not np.array_equal(drawn[0], drawn[2])


def test_reinit_resets_batch_norm(classifier_path: Path) -> None:
    spec = _run(classifier_path, "reinit", "--layer", "bn")
    values = specs.tensor_values(spec)
    assert np.all(values["bn.gamma"] == 1) and np.all(values["bn.running_variance"] == 1)
    assert not values["bn.beta"].any() and not values["bn.running_mean"].any()


def test_init_choices_are_the_builders_initialisers() -> None:
    assert {choice.builder_name() for choice in Init} == set(INIT_NAMES) - {"constant"}


@pytest.mark.parametrize("command", ["widen-classifier", "reinit"])
def test_in_place_overwrites_only_when_asked(command: str, classifier_path: Path) -> None:
    args = ["--classes", "4"] if command == "widen-classifier" else ["--layer", "fc1", "--seed", "9"]
    before = specs.digest(classifier_path)
    refused = invoke(command, classifier_path, *args, "-o", classifier_path)
    assert refused.exit_code == 1 and specs.digest(classifier_path) == before
    done = invoke(command, classifier_path, *args, "-o", classifier_path, "--in-place")
    assert done.exit_code == 0 and specs.digest(classifier_path) != before


def _biasless_head_onnx(path: Path) -> Path:
    """A dense head written as torch's dynamo exporter writes one whose bias was all zero: a Gemm
    without C, fed by features that are all zero (what a fresh network's pooled features nearly are)."""
    b = GraphBuilder()
    zeroed = b.node("Mul", ["x", b.weight("zero", np.zeros(1, np.float32))], name="node_mul")
    b.node("Gemm", [zeroed, b.random("fc.weight", 3, 4)], transB=1, name="node_linear")
    model = b.build(
        [("x", TensorProto.FLOAT, ["batch", 4])], [b.nodes[-1].output[0]], output_names=["logits"]
    )
    path.write_bytes(model.SerializeToString())
    return path


def test_add_bias_gives_a_biasless_head_a_zero_bias_that_trains(tmp_path: Path) -> None:
    source = _biasless_head_onnx(tmp_path / "head.onnx")
    imported = tmp_path / "imported.mlspec"
    assert invoke("import-onnx", source, "-o", imported).exit_code == 0
    head = next(layer.name for layer in load(imported).network.layers if layer.HasField("inner_product"))
    args = ["--loss", "mse", "--loss-input", "logits", "--optimizer", "adam", "--lr", "0.1", "--epochs", "3"]
    plain = invoke("make-updatable", imported, "-o", tmp_path / "plain.mlspec", *args)
    assert plain.exit_code == 0, plain.output
    assert f'note: no bias in layers["{head}"]' in plain.stdout and "--add-bias" in plain.stdout
    assert not graph.find_layer(load(tmp_path / "plain.mlspec"), head).inner_product.has_bias

    result = invoke("make-updatable", imported, "-o", tmp_path / "biased.mlspec", *args, "--add-bias")
    assert result.exit_code == 0, result.output
    assert f'added a zero bias (trainable, outputs unchanged) to layers["{head}"]' in result.stdout
    data = tmp_path / "data.npz"
    rng = np.random.default_rng(3)
    np.savez(
        data,
        x=rng.normal(size=(16, 4)).astype(np.float32),
        logits_true=rng.normal(loc=2.0, size=(16, 3)).astype(np.float32),
    )
    losses = {}
    for name in ("plain", "biased"):
        trained = invoke("train", tmp_path / f"{name}.mlspec", "--data", data, "-o", tmp_path / "t.mlspec")
        assert trained.exit_code == 0, trained.output
        found = re.search(r"mean loss (\S+) -> (\S+)", trained.stdout)
        assert found is not None, trained.stdout
        losses[name] = (float(found[1]), float(found[2]))
    # Zero features: the weights get no gradient, so only the added bias can lower the loss.
    assert losses["biased"][1] < losses["biased"][0]
    assert losses["plain"][1] == losses["plain"][0]


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [("fc*", ["fc1", "fc2"]), ("head", ["fc2"]), ("head,b?", ["bn", "fc2"]), ("fc1,fc1", ["fc1"])],
)
def test_layers_take_globs_and_the_head_alias(
    classifier_path: Path, pattern: str, expected: list[str]
) -> None:
    spec = _run(classifier_path, "make-updatable", "--layers", pattern)
    assert _updatable_layers(spec) == expected


def test_a_layer_pattern_matching_nothing_is_refused_by_name(classifier_path: Path) -> None:
    result = invoke(
        "make-updatable", classifier_path, "-o", classifier_path.with_name("o.mlspec"), "--layers", "conv*"
    )
    assert_one_line_failure(result, 'no layer named "conv*"', "fc2", "head")
