"""Benchmark: head-only training of a MobileNetV2-size network, with and without the feature cache.

The network is MobileNetV2 (width 1.0, 17 inverted-residual blocks, 1280 features, about 2.2
million frozen weights) built with mlspec's builder and random weights, so nothing is
downloaded; only the dense head trains. Both runs train the same spec on the same 512 random
96x96 images for 10 epochs (the issue's setting) in one process, one after the other:

- without the cache, every epoch runs the whole network (ORT computes no gradient for the
  frozen layers, so the extra cost is their forward pass);
- with it, the first call runs the frozen layers once per example and trains the head on the
  stored features; a second call on the same data reuses them.

It prints epochs per second for each, their ratio, and the largest weight difference between
the two runs. This is a measurement, not a test. Run with

    .venv/bin/python tools/bench/feature_cache.py            # 512 examples, 96x96, 10 epochs
    .venv/bin/python tools/bench/feature_cache.py --examples 64 --size 32 --epochs 3   # quick
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from mlspec._proto import model_pb2
from mlspec.builder import NetworkBuilder, SgdParams
from mlspec.builder.layers import PaddingLike
from mlspec.runtime import Trainer
from mlspec.runtime.feature_cache import FeatureCache

# (expansion, output channels, blocks, first stride): torchvision's MobileNetV2 table.
BLOCKS = (
    (1, 16, 1, 1),
    (6, 24, 2, 2),
    (6, 32, 3, 2),
    (6, 64, 4, 2),
    (6, 96, 3, 1),
    (6, 160, 3, 2),
    (6, 320, 1, 1),
)
CLASSES = 10


class _Net:
    """Names layers in order while building conv + batch norm + ReLU6 units."""

    def __init__(self, builder: NetworkBuilder) -> None:
        self.b = builder
        self.count = 0

    def unit(
        self, source: str, channels: int, kernel: int, *, stride: int = 1, groups: int = 1, act: bool = True
    ) -> str:
        self.count += 1
        name = f"u{self.count}"
        pad: PaddingLike = "same" if stride == 1 else ((kernel - 1) // 2,) * 4
        self.b.add_convolution(
            f"{name}_conv",
            source,
            channels,
            (kernel, kernel),
            strides=(stride, stride),
            groups=groups,
            padding=pad,
            has_bias=False,
        )
        self.b.add_batch_norm(f"{name}_bn", f"{name}_conv")
        if not act:
            return f"{name}_bn"
        self.b.add_activation(f"{name}_relu6", f"{name}_bn", "clip")
        return f"{name}_relu6"


def mobilenet_v2(size: int) -> model_pb2.Model:
    builder = NetworkBuilder(class_labels=[f"class{i}" for i in range(CLASSES)], seed=0)
    builder.add_input("image", [3, size, size])
    net = _Net(builder)
    x, channels = net.unit("image", 32, 3, stride=2), 32
    for expansion, out, repeats, first_stride in BLOCKS:
        for index in range(repeats):
            stride = first_stride if index == 0 else 1
            h = net.unit(x, channels * expansion, 1) if expansion != 1 else x
            h = net.unit(h, channels * expansion, 3, stride=stride, groups=channels * expansion)
            h = net.unit(h, out, 1, act=False)
            if stride == 1 and channels == out:
                builder.add_add(f"add{net.count}", [x, h])
                h = f"add{net.count}"
            x, channels = h, out
    x = net.unit(x, 1280, 1)
    builder.add_global_pooling("pool", x, "average")
    builder.add_flatten("features", "pool")
    builder.add_inner_product("head", "features", CLASSES)
    builder.add_softmax("probs", "head")
    builder.make_updatable(["head"])
    builder.set_loss("categorical_cross_entropy", "probs")
    builder.set_optimizer(SgdParams(lr=0.01, batch=32, momentum=0.9))
    builder.set_epochs(10, (1, 1000))
    builder.set_shuffle(True)
    return builder.spec


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=512)
    parser.add_argument("--size", type=int, default=96)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    spec = mobilenet_v2(args.size)
    frozen = sum(1 for layer in spec.network.layers if not layer.is_updatable)
    rng = np.random.default_rng(0)
    images = rng.normal(size=(args.examples, 3, args.size, args.size)).astype(np.float32)
    labels = rng.integers(0, CLASSES, args.examples)
    data = {"image": images, "label": labels}
    print(
        f"MobileNetV2 at {args.size}x{args.size}: {frozen} frozen layers + dense head, "
        f"{args.examples} examples, batch 32, {args.epochs} epochs, SGD"
    )

    with Trainer.from_spec(spec, feature_cache=False, epochs=args.epochs) as plain:
        start = time.perf_counter()
        plain.train(data)
        plain_seconds = time.perf_counter() - start
        plain_weights = plain.parameters()
    cache = FeatureCache()
    with Trainer.from_spec(spec, feature_cache=cache, epochs=args.epochs) as cached:
        start = time.perf_counter()
        cached.train(data)
        first_seconds = time.perf_counter() - start
        cached_weights = cached.parameters()
        note = cached.feature_cache_note
        start = time.perf_counter()
        cached.train(data)  # the same data again: the stored features are reused
        again_seconds = time.perf_counter() - start
    difference = max(float(np.abs(plain_weights[k] - cached_weights[k]).max()) for k in plain_weights)

    epochs = args.epochs
    print(f"feature cache: {note}; examples computed {cache.examples_computed}")
    print(f"without the cache:            {plain_seconds:7.2f} s  {epochs / plain_seconds:8.2f} epochs/s")
    print(
        f"with the cache, first call:   {first_seconds:7.2f} s  {epochs / first_seconds:8.2f} epochs/s  "
        f"ratio {plain_seconds / first_seconds:.1f}x (includes computing the features)"
    )
    print(
        f"with the cache, second call:  {again_seconds:7.2f} s  {epochs / again_seconds:8.2f} epochs/s  "
        f"ratio {plain_seconds / again_seconds:.1f}x (features reused)"
    )
    print(f"largest weight difference after {epochs} epochs: {difference:.2e}")


if __name__ == "__main__":
    main()
