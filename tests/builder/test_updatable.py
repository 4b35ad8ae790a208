"""Updatability: coremltools' updatable-model tests in mlspec terms, and its builder bugs absent."""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pytest

from mlspec import SPEC_VERSION, Model
from mlspec._proto import tensor_pb2
from mlspec.builder import AdamParams, NetworkBuilder, SgdParams, fp16_layers
from mlspec.spec import graph, weights
from mlspec.spec.errors import SpecEditError
from mlspec.spec.validate import find_problems, validate
from tests.builder.networks import regressor, three_class_classifier


def _three_dense_classifier() -> NetworkBuilder:
    """coremltools' test network: three inner products then a softmax."""
    builder = NetworkBuilder(mode="classifier", class_labels=[0, 1, 2])
    builder.add_input("input", (3,))
    builder.add_inner_product("ip1", "input", 3)
    builder.add_inner_product("ip2", "ip1", 3)
    builder.add_inner_product("ip3", "ip2", 3)
    builder.add_softmax("output", "ip3")
    return builder


def test_ce_sgd_model_flags_defaults_and_allowed_sets() -> None:
    builder = _three_dense_classifier()
    builder.make_updatable(["ip1", "ip2"])
    builder.set_loss("categorical_cross_entropy", "output", name="cross_entropy")
    builder.set_optimizer(SgdParams(lr=1e-2, batch=10, momentum=0.0))
    builder.set_epochs(20, [10, 20, 30, 40])
    spec = builder.spec
    validate(spec)
    assert spec.is_updatable and spec.spec_version == SPEC_VERSION
    for name in ("ip1", "ip2"):
        layer = graph.find_layer(spec, name)
        assert layer.is_updatable
        assert layer.inner_product.weights.is_updatable and layer.inner_product.bias.is_updatable
    assert not graph.find_layer(spec, "ip3").is_updatable
    assert not graph.find_layer(spec, "ip3").inner_product.weights.is_updatable
    loss = spec.update_parameters.loss_layers[0]
    assert loss.WhichOneof("kind") == "categorical_cross_entropy" and loss.input == "output"
    sgd = spec.update_parameters.optimizer.sgd
    assert sgd.learning_rate.default_value == pytest.approx(1e-2)
    assert (sgd.learning_rate.range.min, sgd.learning_rate.range.max) == (0.0, 1.0)
    assert sgd.mini_batch_size.default_value == 10 and list(sgd.mini_batch_size.set.values) == [10]
    assert sgd.momentum.default_value == 0.0
    assert (sgd.momentum.range.min, sgd.momentum.range.max) == (0.0, 1.0)
    epochs = spec.update_parameters.epochs
    assert epochs.default_value == 20 and list(epochs.set.values) == [10, 20, 30, 40]


def test_mse_adam_model_with_training_inputs() -> None:
    builder = regressor()
    builder.make_updatable(["fc1", "out"])
    builder.set_loss("mean_squared_error", "out")
    builder.set_optimizer(AdamParams(lr=1e-2, batch=10, beta1=0.9, beta2=0.999, eps=1e-8))
    builder.set_epochs(20, [10, 20, 30])
    spec = builder.spec
    validate(spec)
    adam = spec.update_parameters.optimizer.adam
    assert adam.beta1.default_value == pytest.approx(0.9) and adam.beta2.default_value == pytest.approx(0.999)
    assert adam.eps.default_value == pytest.approx(1e-8)
    assert list(adam.mini_batch_size.set.values) == [10]
    names = [f.name for f in spec.description.training_inputs]
    assert names == ["x", "out_true"]
    target = spec.description.training_inputs[1].type.tensor
    assert target.dtype == tensor_pb2.FLOAT32
    assert [d.symbol or d.size for d in target.shape] == ["batch", 2]


def test_classifier_cross_entropy_label_takes_the_labels_type() -> None:
    for labels, kind in ((["a", "b", "c"], "string_type"), ([7, 8, 9], "int64_type")):
        builder = NetworkBuilder(mode="classifier", class_labels=labels)
        builder.add_input("x", (4,))
        builder.add_inner_product("fc", "x", 3)
        builder.add_softmax("probs", "fc")
        builder.make_updatable(["fc"])
        builder.set_loss("categorical_cross_entropy", "probs")
        label = builder.spec.description.training_inputs[-1]
        assert (label.name, label.type.WhichOneof("kind")) == ("label", kind)
        assert builder.spec.update_parameters.loss_layers[0].target == "label"


def test_cross_entropy_needs_a_softmax_output_or_logits_mode() -> None:
    builder = _three_dense_classifier()
    builder.make_updatable(["ip3"])
    with pytest.raises(
        SpecEditError, match=r'"ip3" comes from layers\["ip3"\], not a softmax.*from_logits=True'
    ):
        builder.set_loss("categorical_cross_entropy", "ip3")
    with pytest.raises(SpecEditError, match="is a softmax output but from_logits=True expects logits"):
        builder.set_loss("categorical_cross_entropy", "output", from_logits=True)
    builder.set_loss("categorical_cross_entropy", "ip3", from_logits=True)
    builder.set_optimizer(SgdParams())
    builder.set_epochs(1)
    validate(builder.spec)
    assert builder.spec.update_parameters.loss_layers[0].categorical_cross_entropy.from_logits


def _cross_entropy_on_logits(*, target: str) -> NetworkBuilder:
    """x[4] -> updatable dense 3 ("fc"), cross-entropy from its logits against `target`."""
    builder = NetworkBuilder()
    builder.add_input("x", (4,))
    builder.add_inner_product("fc", "x", 3)
    builder.make_updatable(["fc"])
    builder.set_loss("categorical_cross_entropy", "fc", from_logits=True, target=target)
    return builder


def test_plain_cross_entropy_target_is_int64_class_indices() -> None:
    builder = _cross_entropy_on_logits(target="klass")
    target = builder.spec.description.training_inputs[-1]
    assert (target.name, target.type.WhichOneof("kind")) == ("klass", "int64_type")


def test_loss_calls_never_duplicate_training_inputs() -> None:
    builder = three_class_classifier()
    builder.make_updatable(["classifier"])
    for _ in range(3):
        builder.set_loss("categorical_cross_entropy", "probabilities")
    names = [f.name for f in builder.spec.description.training_inputs]
    assert names == ["features", "label"]
    builder.add_loss("mean_squared_error", "classifier", weight=0.5)
    builder.add_loss("l1", "classifier", target="classifier_true", weight=0.25)
    names = [f.name for f in builder.spec.description.training_inputs]
    assert names == ["features", "label", "classifier_true"]
    assert len(builder.spec.update_parameters.loss_layers) == 3


def test_several_weighted_losses_and_replacement() -> None:
    builder = regressor()
    builder.make_updatable(["out"])
    builder.set_loss("mean_squared_error", "out", weight=2.0)
    builder.add_loss("huber", "out", target="robust_true", delta=0.5)
    builder.add_loss("l1", "out", target="robust_true")
    builder.set_optimizer(SgdParams())
    builder.set_epochs(3)
    spec = builder.spec
    validate(spec)
    kinds = [
        (loss.name, loss.WhichOneof("kind"), loss.weight if loss.HasField("weight") else None)
        for loss in spec.update_parameters.loss_layers
    ]
    assert kinds == [
        ("mean_squared_error_loss", "mean_squared_error", 2.0),
        ("huber_loss", "huber", None),
        ("l1_loss", "l1", None),
    ]
    assert spec.update_parameters.loss_layers[1].huber.delta == 0.5
    builder.set_loss("binary_cross_entropy", "out", from_logits=True)
    spec = builder.spec
    assert [loss.name for loss in spec.update_parameters.loss_layers] == ["binary_cross_entropy_loss"]
    assert [f.name for f in spec.description.training_inputs] == ["x", "out_true"]


def test_losses_sharing_a_target_must_agree_on_its_type() -> None:
    builder = regressor()
    builder.make_updatable(["fc1", "out"])
    builder.set_loss("mean_squared_error", "out")
    before = builder.spec.SerializeToString()
    with pytest.raises(
        SpecEditError, match='"out_true" is also the target of loss "mean_squared_error_loss"'
    ):
        builder.add_loss("l1", "fc1", target="out_true")
    assert builder.spec.SerializeToString() == before
    builder.add_loss("l1", "out", target="out_true")  # same shape: one shared training input
    assert [f.name for f in builder.spec.description.training_inputs] == ["x", "out_true"]


def test_set_epochs_twice_replaces() -> None:
    builder = three_class_classifier()
    builder.set_epochs(10, [1, 10, 50])
    builder.set_epochs(5, [5, 6])
    epochs = builder.spec.update_parameters.epochs
    assert epochs.default_value == 5 and list(epochs.set.values) == [5, 6]
    builder.set_epochs(7)
    assert list(builder.spec.update_parameters.epochs.set.values) == [7]


def test_out_of_range_epochs_seed_and_clipping_are_refused_unchanged() -> None:
    builder = three_class_classifier()
    builder.set_epochs(10, [1, 10, 50])
    before = builder.spec.SerializeToString()
    with pytest.raises(SpecEditError, match=re.escape("epochs=3 is not in the allowed set {1, 10, 50}")):
        builder.set_epochs(3, [1, 10, 50])
    with pytest.raises(SpecEditError, match="epochs"):
        builder.set_epochs(0)
    with pytest.raises(SpecEditError, match="seed"):
        builder.set_seed(-4)
    with pytest.raises(SpecEditError, match=r"positive|> 0"):
        builder.set_gradient_clipping(max_norm=-1.0)
    assert builder.spec.SerializeToString() == before


def test_failed_loss_call_leaves_the_spec_byte_identical() -> None:
    builder = three_class_classifier()
    builder.make_updatable(["classifier"])
    builder.set_loss("categorical_cross_entropy", "probabilities")
    before = builder.spec.SerializeToString()
    failing: list[Callable[[], None]] = [
        lambda: builder.set_loss("categorical_cross_entropy", "classifier"),
        lambda: builder.set_loss("mean_squared_error", "nowhere"),
        lambda: builder.set_loss("mean_squared_error", "classifier", target="relu"),
        lambda: builder.set_loss("mean_squared_error", "classifier", name="hidden"),
        lambda: builder.add_loss("huber", "classifier", delta=-1.0),
        lambda: builder.add_loss("l1", "classifier", weight=0.0),
        lambda: builder.set_loss("kl_divergence", "classifier"),  # type: ignore[arg-type]  # an unknown loss, on purpose
        # A loss that no updatable layer reaches would break the backprop rule.
        lambda: builder.set_loss("mean_squared_error", "hidden"),
    ]
    for call in failing:
        with pytest.raises(SpecEditError):
            call()
        assert builder.spec.SerializeToString() == before


def test_loss_names_never_enter_the_layer_list() -> None:
    builder = three_class_classifier()
    layer_names = [layer.name for layer in builder.spec.network.layers]
    builder.make_updatable(["classifier"])
    builder.set_loss("categorical_cross_entropy", "probabilities", name="xent")
    builder.add_loss("mean_squared_error", "classifier", name="mse")
    assert [layer.name for layer in builder.spec.network.layers] == layer_names
    with pytest.raises(SpecEditError, match="is a loss name"):
        builder.rename_layer("hidden", "xent")


@pytest.mark.parametrize(
    ("layer", "trained"),
    [
        ("conv", ["weights", "bias"]),
        ("bn", ["gamma", "beta"]),
        ("embed", ["weights"]),
        ("ln", ["gamma", "beta"]),
    ],
)
def test_every_trainable_kind_can_be_made_updatable(layer: str, trained: list[str]) -> None:
    builder = NetworkBuilder()
    builder.add_input("image", (2, 6, 6))
    builder.add_convolution("conv", "image", 3, (3, 3))
    builder.add_batch_norm("bn", "conv")
    builder.add_global_pooling("gap", "bn")
    builder.add_flatten("flat", "gap")
    builder.add_input("tokens", (1,), dtype="int64")
    builder.add_embedding("embed", "tokens", 10, 3)
    builder.add_flatten("tok", "embed")
    builder.add_add("mix", ["flat", "tok"])
    builder.add_layer_norm("ln", "mix")
    builder.make_updatable([layer])
    builder.set_loss("mean_squared_error", "ln")
    builder.set_optimizer(SgdParams())
    builder.set_epochs(2)
    validate(builder.spec)
    target = graph.find_layer(builder.spec, layer)
    message = getattr(target, target.WhichOneof("kind"))
    flagged = [
        f
        for f in ("weights", "bias", "gamma", "beta", "running_mean", "running_variance")
        if message.DESCRIPTOR.fields_by_name.get(f)
        and message.HasField(f)
        and getattr(message, f).is_updatable
    ]
    assert flagged == trained


def test_per_tensor_control_and_make_frozen() -> None:
    builder = regressor()
    builder.make_updatable(["fc1", "out"], tensors=["weights"])
    out = graph.find_layer(builder.spec, "out").inner_product
    assert out.weights.is_updatable and not out.bias.is_updatable
    builder.set_loss("mean_squared_error", "out")
    builder.set_optimizer(SgdParams())
    builder.set_epochs(1)
    validate(builder.spec)
    builder.make_frozen(["fc1"])
    assert not graph.find_layer(builder.spec, "fc1").is_updatable
    builder.make_frozen(["out"], tensors=["weights"])
    assert not graph.find_layer(builder.spec, "out").is_updatable
    assert not builder.spec.is_updatable


def test_untrainable_kinds_and_unknown_tensors_are_refused() -> None:
    builder = regressor()
    with pytest.raises(
        SpecEditError,
        match=r"\(activation\) has nothing to train; trainable kinds are: "
        "inner_product, convolution, batch_norm, layer_norm, embedding",
    ):
        builder.make_updatable(["act"])
    with pytest.raises(
        SpecEditError, match="cannot train running_mean; its trainable tensors are: beta, gamma"
    ):
        builder.make_updatable(["bn"], tensors=["running_mean"])
    refusal = r'^make updatable layers\["out"\], layers\["ghost"\] refused: no layer named "ghost"'
    with pytest.raises(SpecEditError, match=refusal):
        builder.make_updatable(["out", "ghost"])
    # The failing list changed nothing, not even the layers named before the bad one.
    assert not graph.find_layer(builder.spec, "out").is_updatable
    assert not builder.spec.is_updatable


def _with_half_weights(model: Model, layer_name: str) -> None:
    fc = graph.find_layer(model, layer_name).inner_product
    weights.set_tensor(fc.weights, weights.to_numpy(fc.weights).astype(np.float16))


def test_fp16_check_covers_every_layer_not_only_the_first() -> None:
    builder = regressor()
    _with_half_weights(builder.spec, "out")  # the last layer; the first stays float32
    assert fp16_layers(builder.spec) == ["out"]
    with pytest.raises(SpecEditError, match=r'layers\["out"\].weights is float16'):
        builder.make_updatable(["fc1", "out"])
    assert not graph.find_layer(builder.spec, "fc1").is_updatable
    builder.make_updatable(["fc1"])  # float32 layers are fine


def test_updatable_setup_is_tolerated_unfinished_but_wrong_edits_are_not() -> None:
    builder = three_class_classifier()
    builder.make_updatable(["classifier"])
    unfinished = {p.where for p in find_problems(builder.spec)}
    assert unfinished == {
        "update_parameters.loss_layers",
        "update_parameters.optimizer",
        "update_parameters.epochs",
    }
    builder.set_optimizer(SgdParams())
    builder.set_loss("categorical_cross_entropy", "probabilities")
    builder.set_epochs(1)
    assert find_problems(builder.spec) == []


def test_training_input_descriptions_survive_resynchronisation() -> None:
    builder = three_class_classifier()
    builder.make_updatable(["classifier"])
    builder.set_loss("categorical_cross_entropy", "probabilities")
    builder.spec.description.training_inputs[1].short_description = "True label"
    builder.set_epochs(4)
    builder.set_loss("categorical_cross_entropy", "probabilities")
    assert builder.spec.description.training_inputs[1].short_description == "True label"


def test_shuffle_seed_clipping_and_schedules() -> None:
    builder = three_class_classifier()
    builder.set_shuffle(False)
    builder.set_seed(1234)
    builder.set_gradient_clipping(max_norm=5.0, allowed=(1.0, 10.0))
    builder.set_cosine_schedule(min_lr=1e-5)
    update = builder.spec.update_parameters
    assert update.shuffle.default_value is False
    assert update.seed.default_value == 1234 and update.seed.range.max == 2**32 - 1
    assert update.clipping.max_norm.default_value == 5.0 and update.clipping.max_norm.range.max == 10.0
    assert update.lr_schedule.cosine.min_lr == pytest.approx(1e-5)
    builder.set_gradient_clipping(max_value=0.5)
    assert update.clipping.WhichOneof("kind") == "max_value"
    assert list(update.clipping.max_value.set.values) == [0.5]
    builder.set_step_schedule(3, 0.5)
    assert update.lr_schedule.WhichOneof("kind") == "step"
    builder.set_warmup_schedule(100, 0.1)
    assert update.lr_schedule.linear_warmup.warmup_steps == 100
    with pytest.raises(SpecEditError, match="start_factor"):
        builder.set_warmup_schedule(10, 0.0)
    with pytest.raises(SpecEditError, match="exactly one"):
        builder.set_gradient_clipping()
    builder.clear_gradient_clipping()
    builder.clear_lr_schedule()
    update = builder.spec.update_parameters  # the refused edits above restored the whole model
    assert not update.HasField("clipping") and not update.HasField("lr_schedule")
    assert find_problems(builder.spec) == []


def test_declared_class_index_targets_are_kept() -> None:
    builder = _cross_entropy_on_logits(target="klass")
    target = builder.spec.description.training_inputs[-1]
    target.type.Clear()
    target.type.tensor.dtype = tensor_pb2.INT64
    target.type.tensor.shape.add(symbol="batch")
    target.type.tensor.shape.add(size=1)
    builder.set_epochs(2)
    kept = builder.spec.description.training_inputs[-1]
    assert kept.type.WhichOneof("kind") == "tensor" and [d.size for d in kept.type.tensor.shape] == [0, 1]


def test_rename_target_keeps_the_description_and_refuses_clashes() -> None:
    builder = regressor()
    builder.make_updatable(["out"])
    builder.set_loss("mean_squared_error", "out")
    builder.spec.description.training_inputs[1].short_description = "expected output"
    builder.rename_target("out_true", "y")
    spec = builder.spec
    assert spec.update_parameters.loss_layers[0].target == "y"
    assert [(f.name, f.short_description) for f in spec.description.training_inputs] == [
        ("x", ""),
        ("y", "expected output"),
    ]
    before = spec.SerializeToString()
    with pytest.raises(SpecEditError, match='"x" already names a tensor'):
        builder.rename_target("y", "x")
    with pytest.raises(SpecEditError, match='no loss has target "nope"; targets are: y'):
        builder.rename_target("nope", "z")
    assert builder.spec.SerializeToString() == before


def test_clear_losses_removes_losses_and_their_targets_until_a_new_loss_is_set() -> None:
    builder = regressor()
    builder.make_updatable(["out"])
    builder.set_loss("mean_squared_error", "out")
    builder.clear_losses()
    assert not builder.spec.update_parameters.loss_layers
    assert not builder.spec.description.training_inputs
    builder.set_loss("l1", "out", target="expected")
    assert [f.name for f in builder.spec.description.training_inputs] == ["x", "expected"]
    assert builder.spec.update_parameters.loss_layers[0].WhichOneof("kind") == "l1"
