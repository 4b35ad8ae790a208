"""The flatten -> dense -> softmax classifier head that many tests put on their inputs, made
updatable with one cross-entropy loss, so each test spells out only what it is about."""

from __future__ import annotations

from collections.abc import Sequence

from mlspec.builder import NetworkBuilder, SgdParams
from mlspec.builder.params import Allowed, OptimizerParams


def classifier_head(
    builder: NetworkBuilder,
    source: str,
    classes: int,
    *,
    train: Sequence[str] = ("fc",),
    optimizer: OptimizerParams | None = None,
    epochs: int = 1,
    allowed_epochs: Allowed = None,
) -> NetworkBuilder:
    """Append flatten "flat", dense "fc" (`classes` wide) and softmax "probs" after `source`.

    The layers named in `train` become updatable, with categorical cross-entropy on "probs",
    `optimizer` (default SGD, learning rate 0.1, batch 2) and `epochs` (allowed: only that
    number unless `allowed_epochs` says otherwise); an empty `train` leaves a plain classifier.
    Returns the builder, for chaining.
    """
    builder.add_flatten("flat", source)
    builder.add_inner_product("fc", "flat", classes)
    builder.add_softmax("probs", "fc")
    if train:
        builder.make_updatable(list(train))
        builder.set_loss("categorical_cross_entropy", "probs")
        builder.set_optimizer(optimizer or SgdParams(lr=0.1, batch=2))
        builder.set_epochs(epochs, allowed_epochs)
    return builder
