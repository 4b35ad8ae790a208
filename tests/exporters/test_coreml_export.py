"""Core ML export: what Core ML can express comes back unchanged through import-coreml, passes the
rules of Core ML's validator and reads in coremltools; everything else is refused before a byte is
written, each problem named."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from coremltools.models.neural_network import NeuralNetworkBuilder
from coremltools.models.utils import load_spec
from google.protobuf import text_format

from mlspec._proto import model_pb2
from mlspec.builder import AdamParams, AdamWParams, NetworkBuilder, SgdParams
from mlspec.convert.exporters import CoreMLExportError, export_coreml, write_coreml
from mlspec.convert.importers import import_coreml
from mlspec.spec.weights import to_float32
from tests.cli import specs
from tests.exporters.coreml_rules import broken_rules
from tests.importers.coreml_models import cnn_classifier, mlp_regressor


def pets() -> model_pb2.Model:
    """The README's ten-line classifier: dense -> softmax, SGD with momentum."""
    builder = NetworkBuilder(class_labels=["cat", "dog"], seed=1)
    builder.add_input("features", (4,))
    builder.add_inner_product("fc", "features", 2)
    builder.add_softmax("probabilities", "fc")
    builder.make_updatable(["fc"])
    builder.set_loss("categorical_cross_entropy", "probabilities")
    builder.set_optimizer(SgdParams(lr=0.1, batch=8, momentum=0.9))
    builder.set_epochs(20, allowed=[1, 20])
    return builder.spec


def deep_classifier() -> model_pb2.Model:
    """dense -> batch norm -> relu -> dense -> softmax, both dense layers trained with Adam."""
    builder = NetworkBuilder.edit(specs.classifier())
    builder.make_updatable(["fc1", "fc2"])
    builder.set_loss("categorical_cross_entropy", "probs")
    params = AdamParams(lr=0.01, batch=4)
    params.set_batch(4, [2, 4, 8])
    params.set_lr(0.01, (0.0001, 0.5))
    params.set_beta1(0.85, (0.5, 0.95))
    builder.set_optimizer(params)
    builder.set_epochs(6, (1, 20))
    builder.set_shuffle(False)
    builder.set_seed(7, [7, 8])
    return builder.spec


def cnn() -> model_pb2.Model:
    """A frozen transpose and leaky relu in front (Core ML passes no gradient through them), then
    conv (same) -> bn -> relu -> max pool -> depthwise conv (explicit pads) -> average pool ->
    sigmoid -> flatten -> dense -> softmax; conv1 and dense train."""
    builder = NetworkBuilder(class_labels=["a", "b", "c"], seed=4)
    builder.add_input("image", (3, 8, 6))
    builder.add_transpose("hw", "image", (0, 1, 3, 2))
    builder.add_activation("leaky", "hw", "leaky_relu", alpha=0.25)
    builder.add_convolution("conv1", "leaky", 4, (3, 3), padding="same_lower")
    builder.add_batch_norm("bn", "conv1", epsilon=1e-3)
    builder.add_activation("relu", "bn", "relu")
    builder.add_pooling("pool", "relu", "max", (2, 2))
    builder.add_convolution("depthwise", "pool", 4, (3, 3), groups=4, padding=[1, 0, 1, 2], dilations=(1, 1))
    builder.add_pooling("avg", "depthwise", "average", (2, 2), strides=(1, 1), count_include_pad=True)
    builder.add_activation("sigmoid", "avg", "sigmoid")
    builder.add_flatten("flat", "sigmoid")
    builder.add_inner_product("dense", "flat", 3)
    builder.add_softmax("probs", "dense")
    builder.make_updatable(["conv1", "dense"])
    builder.set_loss("categorical_cross_entropy", "probs")
    builder.set_optimizer(SgdParams(lr=0.05, batch=2))
    builder.set_epochs(3, [3])
    return builder.spec


def regressor() -> model_pb2.Model:
    """dense -> tanh -> dense, mean squared error against a float target."""
    builder = NetworkBuilder(mode="regressor", seed=3)
    builder.add_input("x", [4])
    builder.add_inner_product("hidden", "x", 5)
    builder.add_activation("tanh", "hidden", "tanh")
    builder.add_inner_product("out", "tanh", 2)
    builder.make_updatable(["hidden", "out"])
    builder.set_loss("mean_squared_error", "out")
    builder.set_optimizer(SgdParams(lr=0.1, batch=2))
    builder.set_epochs(2, (1, 5))
    return builder.spec


BUILT: dict[str, Callable[[], model_pb2.Model]] = {
    "pets": pets,
    "deep_classifier": deep_classifier,
    "cnn": cnn,
    "regressor": regressor,
    "frozen_classifier": specs.classifier,
}


def _core_ml_form(spec: model_pb2.Model) -> model_pb2.Model:
    """The spec as Core ML can hold it, field by field:
    - optimizer settings Core ML lacks, when off by default, are left out (the export says so);
    - a softmax over the last axis of [batch, C] is Core ML's softmax over C (axis 1);
    - batch-norm epsilon is a float32 in Core ML;
    - strides and dilations left empty (meaning 1) are written out;
    - the model's name is the file's name (Core ML has no name field).
    """
    expected = model_pb2.Model()
    expected.CopyFrom(spec)
    optimizer = expected.update_parameters.optimizer
    for settings, names in (
        (optimizer.sgd, ("nesterov", "weight_decay")),
        (optimizer.adam, ("weight_decay",)),
    ):
        for name in names:
            if settings.HasField(name) and not getattr(settings, name).default_value:
                settings.ClearField(name)
    for layer in expected.network.layers:
        if layer.HasField("softmax") and layer.softmax.axis == -1:
            layer.softmax.axis = 1
        for kind in ("convolution", "pooling"):
            if layer.HasField(kind) and not getattr(layer.pooling, "global"):
                attributes = getattr(layer, kind)
                attributes.strides[:] = attributes.strides or [1, 1]
                if kind == "convolution":
                    attributes.dilations[:] = attributes.dilations or [1, 1]
        if layer.HasField("batch_norm"):
            layer.batch_norm.epsilon = float(np.float32(layer.batch_norm.epsilon))
    expected.metadata.name = ""
    return expected


def _round_trip(spec: model_pb2.Model, path: Path) -> model_pb2.Model:
    write_coreml(spec, path)
    back = import_coreml(path)
    assert back.metadata.name == path.stem
    back.metadata.name = ""
    return back


@pytest.mark.parametrize("name", sorted(BUILT))
def test_builder_specs_come_back_unchanged(name: str, tmp_path: Path) -> None:
    spec = BUILT[name]()
    back = _round_trip(spec, tmp_path / f"{name}.mlmodel")
    assert text_format.MessageToString(back) == text_format.MessageToString(_core_ml_form(spec))


@pytest.mark.parametrize("make", [cnn_classifier, mlp_regressor], ids=["cnn_classifier", "mlp_regressor"])
def test_core_ml_models_survive_import_export_import(make: Callable[[Path], object], tmp_path: Path) -> None:
    make(tmp_path / "original.mlmodel")
    first = import_coreml(tmp_path / "original.mlmodel")
    first.metadata.name = ""
    assert _round_trip(first, tmp_path / "again.mlmodel") == first


@pytest.mark.parametrize("name", sorted(BUILT))
def test_exports_satisfy_core_mls_validator_rules(name: str) -> None:
    exported = export_coreml(BUILT[name]()).model
    assert broken_rules(exported) == []
    assert exported.specificationVersion == (4 if exported.isUpdatable else 1)


def test_a_softmax_with_the_axis_left_unset_is_the_last_axis(tmp_path: Path) -> None:
    """import-onnx leaves SoftmaxLayer.axis unset (0, meaning the last axis): Core ML's softmax."""
    spec = pets()
    softmax = next(layer for layer in spec.network.layers if layer.HasField("softmax"))
    softmax.softmax.axis = 0
    back = _round_trip(spec, tmp_path / "pets.mlmodel")
    assert next(layer for layer in back.network.layers if layer.HasField("softmax")).softmax.axis == 1
    assert broken_rules(export_coreml(spec).model) == []


def test_the_rules_checker_catches_a_broken_model() -> None:
    """The yardstick can fail: un-flag a bias and move the loss off the softmax."""
    exported = export_coreml(deep_classifier()).model
    network = exported.neuralNetworkClassifier
    next(layer for layer in network.layers if layer.name == "fc2").innerProduct.bias.isUpdatable = False
    network.updateParams.lossLayers[0].categoricalCrossEntropyLossLayer.input = "fc2"
    assert broken_rules(exported) == [
        "fc2: a weight or bias is not marked updatable",
        "cross-entropy input is not generated from a softmax output",
    ]


def test_coremltools_reads_the_file_and_its_training_settings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write_coreml(deep_classifier(), tmp_path / "deep.mlmodel")
    coreml = load_spec(str(tmp_path / "deep.mlmodel"))
    builder = NeuralNetworkBuilder(spec=coreml)
    capsys.readouterr()
    builder.inspect_updatable_layers()
    builder.inspect_loss_layers()
    builder.inspect_optimizer()
    shown = capsys.readouterr().out
    for fragment in ("fc1", "fc2", "categorical_cross_entropy_loss", "probs", "label", "adam"):
        assert fragment in shown.lower() or fragment in shown, fragment
    adam = coreml.neuralNetworkClassifier.updateParams.optimizer.adamOptimizer
    assert (adam.learningRate.defaultValue, adam.learningRate.range.minValue) == (0.01, 0.0001)
    assert (adam.beta1.defaultValue, adam.beta1.range.maxValue) == (0.85, 0.95)
    assert list(adam.miniBatchSize.set.values) == [2, 4, 8]
    assert list(coreml.neuralNetworkClassifier.stringClassLabels.vector) == list(specs.LABELS)


def test_weights_keep_core_mls_layouts() -> None:
    """Dense [out, in] and convolution [out, in / groups, kH, kW] are written value for value."""
    spec = cnn()
    exported = export_coreml(spec).model.neuralNetworkClassifier
    by_name = {layer.name: layer for layer in exported.layers}

    for name, field in (("conv1", "convolution"), ("depthwise", "convolution"), ("dense", "innerProduct")):
        ours = next(layer for layer in spec.network.layers if layer.name == name)
        kind = "convolution" if field == "convolution" else "inner_product"
        written = np.asarray(getattr(by_name[name], field).weights.floatValue, np.float32)
        np.testing.assert_array_equal(written, to_float32(getattr(ours, kind).weights).ravel())
    assert by_name["depthwise"].convolution.kernelChannels == 1
    assert by_name["depthwise"].convolution.nGroups == 4


def _edited(
    edit: Callable[[NetworkBuilder], None], base: Callable[[], model_pb2.Model] = pets
) -> model_pb2.Model:
    builder = NetworkBuilder.edit(base())
    edit(builder)
    return builder.spec


def _two_branches() -> model_pb2.Model:
    """x -> fc1 (trains) -> concat with x -> fc2 -> softmax: Core ML back-propagates through no concat."""
    builder = NetworkBuilder(class_labels=["a", "b"], seed=2)
    builder.add_input("x", [3])
    builder.add_inner_product("fc1", "x", 4)
    builder.add_concat("join", ["fc1", "x"])
    builder.add_inner_product("fc2", "join", 2)
    builder.add_softmax("probs", "fc2")
    builder.make_updatable(["fc1"])
    builder.set_loss("categorical_cross_entropy", "probs")
    builder.set_optimizer(SgdParams(lr=0.1, batch=2))
    builder.set_epochs(1, [1])
    return builder.spec


def _sequence_model() -> model_pb2.Model:
    builder = NetworkBuilder(mode="regressor", seed=2)
    builder.add_input("signal", [2, 9])
    builder.add_convolution("conv1d", "signal", 3, (3,))
    return builder.spec


def _second_loss(builder: NetworkBuilder) -> None:
    builder.add_loss("categorical_cross_entropy", "fc", name="on_logits", from_logits=True)


def _lr_set(builder: NetworkBuilder) -> None:
    params = SgdParams(lr=0.1, batch=8)
    params.set_lr(0.1, [0.1, 0.01])
    builder.set_optimizer(params)


def _activation_classifier(kind: str) -> model_pb2.Model:
    builder = NetworkBuilder(class_labels=["a", "b"], seed=2)
    builder.add_input("x", [3])
    builder.add_inner_product("fc", "x", 2)
    builder.add_activation("act", "fc", kind)
    builder.add_softmax("probs", "act")
    return builder.spec


def _dropout_classifier() -> model_pb2.Model:
    builder = NetworkBuilder(class_labels=["a", "b"], seed=2)
    builder.add_input("x", [3])
    builder.add_inner_product("fc", "x", 2)
    builder.add_dropout("drop", "fc", rate=0.5)
    builder.add_softmax("probs", "drop")
    return builder.spec


REFUSED: dict[str, tuple[Callable[[], model_pb2.Model], str, str]] = {
    "several losses": (lambda: _edited(_second_loss), "update_parameters.loss_layers", "2 losses"),
    "adamw with decay": (
        lambda: _edited(lambda b: b.set_optimizer(AdamWParams(lr=0.01, batch=8, weight_decay=0.01))),
        "update_parameters.optimizer.adamw.weight_decay",
        "Core ML has Adam only",
    ),
    "sgd weight decay": (
        lambda: _edited(lambda b: b.set_optimizer(SgdParams(lr=0.1, batch=8, weight_decay=0.1))),
        "update_parameters.optimizer.sgd.weight_decay",
        "weight decay (default 0.1)",
    ),
    "nesterov": (
        lambda: _edited(lambda b: b.set_optimizer(SgdParams(lr=0.1, batch=8, momentum=0.9, nesterov=True))),
        "update_parameters.optimizer.sgd.nesterov",
        "nesterov momentum",
    ),
    "updatable batch norm": (
        lambda: _edited(lambda b: b.make_updatable(["fc1", "bn", "fc2"]), deep_classifier),
        'layers["bn"]',
        "an updatable batch_norm",
    ),
    "loss on logits": (
        lambda: _edited(lambda b: b.set_loss("categorical_cross_entropy", "fc", from_logits=True)),
        'update_parameters.loss_layers["categorical_cross_entropy_loss"]',
        "cross-entropy on logits",
    ),
    "path through concat": (_two_branches, 'layers["fc1"]', 'layers["join"] (concat)'),
    "dropout": (_dropout_classifier, 'layers["drop"] (dropout)', "no dropout layer"),
    "gelu": (
        lambda: _activation_classifier("gelu"),
        'layers["act"] (activation)',
        "activation gelu is not written",
    ),
    "1-d convolution": (_sequence_model, 'layers["conv1d"] (convolution)', "has rank 3"),
    "double set": (lambda: _edited(_lr_set), "update_parameters.optimizer.sgd.learning_rate", "{0.01, 0.1}"),
    "clipping": (
        lambda: _edited(lambda b: b.set_gradient_clipping(max_norm=1.0)),
        "update_parameters.clipping",
        "--drop-unsupported",
    ),
    "schedule": (
        lambda: _edited(lambda b: b.set_cosine_schedule(0.0)),
        "update_parameters.lr_schedule",
        "--drop-unsupported",
    ),
}


@pytest.mark.parametrize("case", sorted(REFUSED))
def test_what_core_ml_cannot_express_is_refused_by_name(case: str, tmp_path: Path) -> None:
    make, where, why = REFUSED[case]
    target = tmp_path / "model.mlmodel"
    with pytest.raises(CoreMLExportError) as caught:
        write_coreml(make(), target)
    wheres = [problem_where for problem_where, _ in caught.value.problems]
    assert where in wheres, caught.value.problems
    assert any(why in text for text in caught.value.lines()), caught.value.lines()
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_every_problem_is_reported_at_once() -> None:
    spec = _activation_classifier("hard_swish")
    builder = NetworkBuilder.edit(spec)
    builder.make_updatable(["fc"])
    builder.set_loss("categorical_cross_entropy", "probs")
    builder.set_optimizer(SgdParams(lr=0.1, batch=2, weight_decay=0.5))
    builder.set_epochs(1, [1])
    builder.set_gradient_clipping(max_value=2.0)
    with pytest.raises(CoreMLExportError) as caught:
        export_coreml(builder.spec)
    assert [where for where, _ in caught.value.problems] == [
        'layers["act"] (activation)',
        "update_parameters.optimizer.sgd.weight_decay",
        "update_parameters.clipping",
    ]


def test_drop_unsupported_leaves_out_only_what_is_safe_and_says_so() -> None:
    builder = NetworkBuilder.edit(pets())
    builder.set_optimizer(AdamWParams(lr=0.01, batch=8, weight_decay=0.0))
    builder.set_gradient_clipping(max_norm=1.0)
    builder.set_step_schedule(2, 0.5)
    result = export_coreml(builder.spec, drop_unsupported=True)
    dropped = "\n".join(result.dropped)
    for fragment in ("adamw: AdamW", "clipping: gradient clipping", "lr_schedule: a learning-rate schedule"):
        assert fragment in dropped
    adam = result.model.neuralNetworkClassifier.updateParams.optimizer.adamOptimizer
    assert adam.learningRate.defaultValue == 0.01
    assert (adam.beta1.defaultValue, adam.beta2.defaultValue, adam.eps.defaultValue) == (0.9, 0.999, 1e-8)
    assert broken_rules(result.model) == []
    with pytest.raises(CoreMLExportError):  # decay that changes training is never dropped
        builder.set_optimizer(AdamWParams(lr=0.01, batch=8, weight_decay=0.1))
        export_coreml(builder.spec, drop_unsupported=True)
