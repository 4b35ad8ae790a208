"""Convolution and pooling over randomly drawn attribute combinations (hypothesis, derandomised).

The parametrised cases in test_forward_layers name the combinations we care about; these draw
from the whole space (rank, kernel, stride, dilation, groups, every padding mode) so that an
interaction nobody listed is still exercised. derandomize keeps runs reproducible.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from mlspec._proto import layers_pb2
from tests.convert.forward_check import assert_forward_matches
from tests.support.specs import layer, network, padding

F32 = np.float32
EXAMPLES = settings(max_examples=30, deadline=None, derandomize=True)
PADDINGS = ["valid", "same", "same_lower", "explicit"]


@st.composite
def windows(draw: st.DrawFn, *, dilated: bool) -> dict[str, Any]:
    rank = draw(st.integers(1, 2))
    kernel = draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank))
    kind = draw(st.sampled_from(PADDINGS))
    pads = [draw(st.integers(0, kernel[i % rank] - 1)) for i in range(2 * rank)]
    return {
        "rank": rank,
        "kernel_shape": kernel,
        "strides": draw(st.lists(st.integers(1, 3), min_size=rank, max_size=rank)),
        "dilations": draw(st.lists(st.integers(1, 2), min_size=rank, max_size=rank)) if dilated else [],
        "padding": padding(
            "explicit" if kind == "explicit" else "same" if kind.startswith("same") else "valid",
            pads=pads,
            lower=kind == "same_lower",
        ),
        "spatial": draw(st.lists(st.integers(5, 8), min_size=rank, max_size=rank)),
        "seed": draw(st.integers(0, 2**16)),
    }


@EXAMPLES
@given(
    window=windows(dilated=True),
    groups=st.integers(1, 3),
    per_group=st.integers(1, 2),
    depthwise=st.booleans(),
)
def test_random_convolution(window: dict[str, Any], groups: int, per_group: int, depthwise: bool) -> None:
    rng = np.random.default_rng(window.pop("seed"))
    del window["rank"]
    spatial = window.pop("spatial")
    channels = groups * (1 if depthwise else per_group)
    out_channels = groups * per_group
    weights = rng.normal(size=(out_channels, channels // groups, *window["kernel_shape"])).astype(F32)
    fields = {**window, "input_channels": channels, "output_channels": out_channels, "groups": groups}
    fields.update(has_bias=True, weights=weights, bias=rng.normal(size=out_channels).astype(F32))
    model = network({"x": ["batch", channels, *spatial]}, [layer("convolution", "conv", ["x"], **fields)])
    assert_forward_matches(model, {"x": rng.normal(size=(2, channels, *spatial)).astype(F32)})


@EXAMPLES
@given(window=windows(dilated=False), is_max=st.booleans(), include_pad=st.booleans())
def test_random_pooling(window: dict[str, Any], is_max: bool, include_pad: bool) -> None:
    rng = np.random.default_rng(window.pop("seed"))
    del window["rank"], window["dilations"]
    spatial = window.pop("spatial")
    kind = layers_pb2.PoolingLayer.MAX if is_max else layers_pb2.PoolingLayer.AVERAGE
    fields = {**window, "type": kind, "count_include_pad": include_pad}
    model = network({"x": ["batch", 2, *spatial]}, [layer("pooling", "pool", ["x"], **fields)])
    assert_forward_matches(model, {"x": rng.normal(size=(2, 2, *spatial)).astype(F32)})
