"""Weight surgery: widen/narrow with downstream fixes, labels, reinit, input shapes; all or nothing."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from mlspec.builder import NetworkBuilder, SgdParams
from mlspec.spec import graph, weights
from mlspec.spec.errors import SpecEditError
from mlspec.spec.validate import find_problems, validate
from tests.builder.networks import forward, regressor, tensor, three_class_classifier

RNG = np.random.default_rng(11)
FEATURES = RNG.normal(size=(5, 16)).astype(np.float32)
X = RNG.normal(size=(5, 4)).astype(np.float32)


def _with_running_stats(builder: NetworkBuilder) -> NetworkBuilder:
    """Give the regressor's batch norm non-trivial statistics so the test forward pass means something."""
    bn = graph.find_layer(builder.spec, "bn").batch_norm
    for field, values in (("gamma", [1.5, 0.5, 2, 1, 1, 0.7]), ("running_mean", [0.1, -0.2, 0.3, 0, 0.5, 1])):
        weights.set_tensor(getattr(bn, field), np.asarray(values, np.float32))
    return builder


def test_widen_classifier_keeps_old_rows_and_adds_zero_rows_and_placeholders() -> None:
    builder = three_class_classifier()
    before_w = tensor(builder.spec, "classifier", "weights")
    before_b = tensor(builder.spec, "classifier", "bias")
    before_logits = forward(builder.spec, {"features": FEATURES})["classifier"]
    assert builder.widen_classifier(10) == "classifier"
    model = builder.spec
    validate(model)
    w, b = tensor(model, "classifier", "weights"), tensor(model, "classifier", "bias")
    assert w.shape == (10, 8) and b.shape == (10,)
    assert w[:3].tobytes() == before_w.tobytes() and b[:3].tobytes() == before_b.tobytes()
    assert not w[3:].any() and not b[3:].any()
    assert graph.class_labels(model) == ["rock", "paper", "scissors", *[f"user{i}" for i in range(7)]]
    logits = forward(model, {"features": FEATURES})["classifier"]
    np.testing.assert_allclose(logits[:, :3], before_logits, rtol=1e-12)
    assert not logits[:, 3:].any()
    probabilities = next(f for f in model.description.outputs if f.name == "probabilities")
    assert probabilities.type.tensor.shape[-1].size == 10


def test_widen_hidden_layer_fixes_the_next_dense_so_outputs_do_not_change() -> None:
    builder = three_class_classifier()
    before = forward(builder.spec, {"features": FEATURES})["probabilities"]
    old_next = tensor(builder.spec, "classifier", "weights")
    builder.widen("hidden", 12, init="kaiming_uniform", seed=5)
    model = builder.spec
    validate(model)
    hidden = tensor(model, "hidden", "weights")
    assert hidden.shape == (12, 16) and hidden[8:].any()
    assert np.abs(hidden[8:]).max() <= math.sqrt(6 / 16)
    following = tensor(model, "classifier", "weights")
    assert following.shape == (3, 12) and following[:, :8].tobytes() == old_next.tobytes()
    assert not following[:, 8:].any()
    assert graph.find_layer(model, "classifier").inner_product.input_channels == 12
    np.testing.assert_allclose(forward(model, {"features": FEATURES})["probabilities"], before, rtol=1e-12)


def test_widen_through_batch_norm_then_narrow_back_restores_the_original() -> None:
    builder = _with_running_stats(regressor())
    original = builder.spec.SerializeToString()
    before = forward(builder.spec, {"x": X})["out"]
    builder.widen("fc1", 9, init="xavier_uniform")
    model = builder.spec
    validate(model)
    bn = {f: tensor(model, "bn", f) for f in ("gamma", "beta", "running_mean", "running_variance")}
    assert [bn[f][6:].tolist() for f in bn] == [[1, 1, 1], [0, 0, 0], [0, 0, 0], [1, 1, 1]]
    assert graph.find_layer(model, "bn").batch_norm.channels == 9
    np.testing.assert_allclose(forward(model, {"x": X})["out"], before, rtol=1e-12)
    builder.narrow("fc1", 6)
    assert builder.spec.SerializeToString() == original


def test_narrow_classifier_drops_trailing_classes_and_labels() -> None:
    builder = three_class_classifier()
    before = forward(builder.spec, {"features": FEATURES})["classifier"]
    builder.narrow("classifier", 2)
    model = builder.spec
    validate(model)
    assert graph.class_labels(model) == ["rock", "paper"]
    np.testing.assert_array_equal(forward(model, {"features": FEATURES})["classifier"], before[:, :2])


def test_widen_with_given_labels_and_int_placeholders() -> None:
    builder = three_class_classifier()
    builder.widen_classifier(5, labels=["lizard", "spock"])
    assert graph.class_labels(builder.spec)[3:] == ["lizard", "spock"]
    ints = NetworkBuilder(mode="classifier", class_labels=[4, 9])
    ints.add_input("x", (3,))
    ints.add_inner_product("fc", "x", 2)
    ints.add_softmax("p", "fc")
    ints.widen("fc", 4)
    assert graph.class_labels(ints.spec) == [4, 9, 10, 11]
    validate(ints.spec)


def _conv_net() -> NetworkBuilder:
    builder = NetworkBuilder()
    builder.add_input("image", (2, 6, 6))
    builder.add_convolution("conv1", "image", 4, (3, 3), padding="same")
    builder.add_batch_norm("bn", "conv1")
    builder.add_activation("relu", "bn")
    builder.add_convolution("conv2", "relu", 3, (3, 3))
    builder.add_global_pooling("gap", "conv2")
    builder.add_flatten("flat", "gap")
    builder.add_inner_product("fc", "flat", 2)
    return builder


def test_widen_convolution_fixes_the_next_convolution() -> None:
    builder = _conv_net()
    old = tensor(builder.spec, "conv2", "weights")
    builder.widen("conv1", 6, init="kaiming_normal")
    model = builder.spec
    validate(model)
    new = tensor(model, "conv2", "weights")
    assert new.shape == (3, 6, 3, 3) and new[:, :4].tobytes() == old.tobytes() and not new[:, 4:].any()
    assert tensor(model, "conv1", "weights").shape == (6, 2, 3, 3)


SurgeryCall = Callable[[NetworkBuilder], None]


@pytest.mark.parametrize(
    ("make", "call", "message"),
    [
        (_conv_net, lambda b: b.widen("conv2", 5), r'layers\["flat"\] \(flatten\) reads the resized tensor'),
        (_conv_net, lambda b: b.widen("relu", 5), "cannot be resized; only dense"),
        (three_class_classifier, lambda b: b.widen("classifier", 3), "use narrow"),
        (three_class_classifier, lambda b: b.narrow("classifier", 0), "needs 1 to 2"),
        (
            three_class_classifier,
            lambda b: b.widen_classifier(5, labels=["one"]),
            "2 new classes need 2 labels",
        ),
        (
            three_class_classifier,
            lambda b: b.widen_classifier(5, labels=["rock", "x"]),
            "problem|unique|more than once",
        ),
        (three_class_classifier, lambda b: b.set_class_labels(["a", "b"]), "2 labels, but"),
        (three_class_classifier, lambda b: b.set_class_labels(["a", "a", "b"]), "unique"),
        (three_class_classifier, lambda b: b.reinit("relu"), "has no weights to reinitialise"),
        (three_class_classifier, lambda b: b.reinit("classifier", "glorot"), "unknown initialiser"),
        (regressor, lambda b: b.set_input_shape("x", (5,)), r'layers\["fc1"\]'),
        (regressor, lambda b: b.set_input_shape("nope", (5,)), 'no feature named "nope"'),
    ],
)
def test_refused_surgery_changes_nothing(
    make: Callable[[], NetworkBuilder], call: SurgeryCall, message: str
) -> None:
    builder = make()
    trainable = {_conv_net: "fc", three_class_classifier: "classifier", regressor: "out"}[make]
    builder.make_updatable([trainable])
    before = builder.spec.SerializeToString()
    with pytest.raises(SpecEditError, match=message):
        call(builder)
    assert builder.spec.SerializeToString() == before


def test_widen_in_front_of_a_concat_is_refused_naming_it() -> None:
    builder = NetworkBuilder()
    builder.add_input("x", (3,))
    builder.add_inner_product("a", "x", 2)
    builder.add_concat("joined", ["a", "x"])
    before = builder.spec.SerializeToString()
    with pytest.raises(SpecEditError, match=r'layers\["joined"\] \(concat\)'):
        builder.widen("a", 4)
    assert builder.spec.SerializeToString() == before


def test_reinit_dense_uses_kaiming_uniform_bounds_keeps_flags_and_is_seeded() -> None:
    first, second = three_class_classifier(), three_class_classifier()
    for builder in (first, second):
        builder.widen_classifier(10)
        builder.make_updatable(["classifier"], tensors=["weights"])
        builder.reinit("classifier", seed=99)
    w, b = tensor(first.spec, "classifier", "weights"), tensor(first.spec, "classifier", "bias")
    assert w.tobytes() == tensor(second.spec, "classifier", "weights").tobytes()
    assert np.abs(w).max() <= math.sqrt(6 / 8) and w.std() > 0.3
    assert np.abs(b).max() <= 1 / math.sqrt(8) and b.any()
    layer = graph.find_layer(first.spec, "classifier").inner_product
    assert layer.weights.is_updatable and not layer.bias.is_updatable
    other = three_class_classifier()
    other.widen_classifier(10)
    other.reinit("classifier", seed=100)
    assert tensor(other.spec, "classifier", "weights").tobytes() != w.tobytes()


def test_reinit_normalisers_and_other_initialisers() -> None:
    builder = _with_running_stats(regressor())
    builder.reinit("bn")
    assert tensor(builder.spec, "bn", "gamma").tolist() == [1.0] * 6
    assert not tensor(builder.spec, "bn", "running_mean").any()
    builder.reinit("out", "zeros")
    assert not tensor(builder.spec, "out", "weights").any()
    validate(builder.spec)


def test_set_input_shape_revalidates_and_refreshes_outputs() -> None:
    builder = _conv_net()
    builder.set_input_shape("image", (2, 10, 10))
    model = builder.spec
    validate(model)
    assert [d.size or d.symbol for d in model.description.inputs[0].type.tensor.shape] == ["batch", 2, 10, 10]
    builder.set_input_shape("image", (2, 8, 8), batch=1)
    assert model.description.inputs[0].type.tensor.shape[0].size == 1
    assert find_problems(model) == []


def test_surgery_on_a_trained_setup_keeps_training_inputs_in_step() -> None:
    builder = regressor()
    builder.make_updatable(["out"])
    builder.set_loss("mean_squared_error", "out")
    builder.set_optimizer(SgdParams())
    builder.set_epochs(2)
    builder.widen("out", 3)
    target = builder.spec.description.training_inputs[-1]
    assert [d.size or d.symbol for d in target.type.tensor.shape] == ["batch", 3]
    validate(builder.spec)


def test_reinit_embedding_defaults_to_unit_normal_and_honours_an_explicit_choice() -> None:
    builder = NetworkBuilder()
    builder.add_input("tokens", (2,), dtype="int64")
    builder.add_embedding("embed", "tokens", 200, 50, weights=np.zeros((200, 50)))
    builder.reinit("embed", seed=1)
    table = tensor(builder.spec, "embed", "weights")
    assert table.std() == pytest.approx(1.0, rel=0.05) and abs(table.mean()) < 0.05
    builder.reinit("embed", "zeros")
    assert not tensor(builder.spec, "embed", "weights").any()


def test_extend_class_labels_repairs_a_classifier_that_outgrew_its_labels() -> None:
    builder = NetworkBuilder(mode="classifier", class_labels=["cat"])
    builder.add_input("x", (4,))
    builder.add_inner_product("fc", "x", 3)
    builder.add_softmax("p", "fc")
    assert any("1 labels, but" in str(problem) for problem in find_problems(builder.spec))
    builder.extend_class_labels()
    assert graph.class_labels(builder.spec) == ["cat", "user0", "user1"]
    validate(builder.spec)
    before = builder.spec.SerializeToString()
    with pytest.raises(SpecEditError, match="4 labels, but"):
        builder.extend_class_labels(count=1)
    with pytest.raises(SpecEditError, match=r"unique|more than once"):
        builder.extend_class_labels(["cat"])
    assert builder.spec.SerializeToString() == before
