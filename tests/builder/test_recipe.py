"""The Core ML personalisation recipe (Hollemans, part 4) end to end, in mlspec terms."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from mlspec import Model, load, save
from mlspec.builder import NetworkBuilder, SgdParams, inspect_model
from mlspec.spec import graph
from mlspec.spec.validate import validate
from tests.builder.networks import forward, tensor, three_class_classifier


def test_personalisation_recipe(tmp_path: Path) -> None:
    # 1. A trained 3-class classifier (rock, paper, scissors).
    turi = three_class_classifier(seed=3)
    validate(turi.spec)
    old_w = tensor(turi.spec, "classifier", "weights")
    old_b = tensor(turi.spec, "classifier", "bias")
    features = np.random.default_rng(0).normal(size=(4, 16)).astype(np.float32)
    old_logits = forward(turi.spec, {"features": features})["classifier"]

    # 2. Widen to 10 classes: new rows zero, old rows bit-identical, placeholders user0..user6.
    turi.widen_classifier(10)
    w, b = tensor(turi.spec, "classifier", "weights"), tensor(turi.spec, "classifier", "bias")
    assert w.shape == (10, 8)
    assert w[:3].tobytes() == old_w.tobytes() and b[:3].tobytes() == old_b.tobytes()
    assert not w[3:].any() and not b[3:].any()
    assert graph.class_labels(turi.spec) == ["rock", "paper", "scissors"] + [f"user{i}" for i in range(7)]
    np.testing.assert_allclose(
        forward(turi.spec, {"features": features})["classifier"][:, :3], old_logits, rtol=1e-12
    )

    # 4-5. Make the last dense layer updatable; cross-entropy on the probabilities; SGD; epochs.
    turi.make_updatable(["classifier"])
    turi.set_loss("categorical_cross_entropy", "probabilities")
    sgd = SgdParams(lr=0.001, batch=8, momentum=0)
    sgd.set_batch(8, [1, 2, 8, 16])
    turi.set_optimizer(sgd)
    turi.set_epochs(10, [1, 10, 50])
    turi.spec.description.training_inputs[1].short_description = "True label"

    # 3. A second copy whose classifier starts from scratch (Kaiming uniform, as in make_nn.py).
    empty_model = Model()
    empty_model.CopyFrom(turi.spec)
    empty = NetworkBuilder(empty_model)
    empty.reinit("classifier", "kaiming_uniform", seed=2019)
    new_w = tensor(empty.spec, "classifier", "weights")
    assert np.abs(new_w).max() <= math.sqrt(6 / 8) and new_w[3:].any()
    assert np.abs(tensor(empty.spec, "classifier", "bias")).max() <= 1 / math.sqrt(8)
    assert tensor(turi.spec, "classifier", "weights").tobytes() == w.tobytes()  # the first copy is untouched

    # 6. Both copies validate, and survive a save/load round trip unchanged.
    for name, builder in (("HandsTuri", turi), ("HandsEmpty", empty)):
        spec = builder.spec
        validate(spec)
        path = tmp_path / f"{name}.mlspec"
        save(spec, path)
        assert load(path).SerializeToString() == spec.SerializeToString()
        summary = inspect_model(spec)
        layer = next(item for item in summary["layers"] if item["name"] == "classifier")
        assert layer["is_updatable"] and layer["updatable_tensors"] == ["weights", "bias"]
        assert [item["name"] for item in summary["layers"] if item["is_updatable"]] == ["classifier"]
        hyper = summary["optimizer"]["hyperparameters"]
        assert summary["optimizer"]["kind"] == "sgd"
        assert hyper["learning_rate"] == {"default": 0.001, "range": [0.0, 1.0]}
        assert hyper["mini_batch_size"] == {"default": 8, "set": [1, 2, 8, 16]}
        assert summary["epochs"] == {"default": 10, "set": [1, 10, 50]}
        assert [(f["name"], f["type"]) for f in summary["training_inputs"]] == [
            ("features", "tensor"),
            ("label", "string"),
        ]
        assert summary["training_inputs"][1]["short_description"] == "True label"
        assert summary["losses"] == [
            {
                "name": "categorical_cross_entropy_loss",
                "kind": "categorical_cross_entropy",
                "input": "probabilities",
                "target": "label",
                "weight": 1.0,
                "from_logits": False,
            }
        ]
