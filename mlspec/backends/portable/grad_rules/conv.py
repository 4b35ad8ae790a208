"""Gradients of Conv and ConvTranspose (1-D and 2-D, any stride, dilation, groups and pads).

A convolution and a transposed convolution with the same weights and attributes are adjoint
maps, so each one's input gradient is the other op. The weight gradient is itself a
convolution with the roles swapped: the input's channels become the batch, the output gradient
becomes the kernel, and stride and dilation trade places; the result can overhang the kernel
by the rows the forward never reached (when the stride does not divide the padded size), which
a Slice drops.
"""

from __future__ import annotations

from dataclasses import dataclass

import onnx

from mlspec.backends.portable.grad_rules.base import Dims, GradContext, Rule, attribute, present
from mlspec.spec.windows import same_pads

Grads = list[str | None]


@dataclass(frozen=True)
class Window:
    """The geometry both ops share, with every default filled in and auto_pad resolved."""

    kernel: list[int]
    strides: list[int]
    dilations: list[int]
    pads: list[int]
    group: int

    @property
    def rank(self) -> int:
        return len(self.kernel)

    def attributes(self) -> dict[str, object]:
        return {"strides": self.strides, "dilations": self.dilations, "pads": self.pads, "group": self.group}


def window(g: GradContext, node: onnx.NodeProto, kernel: list[int], source: str) -> Window:
    rank = len(kernel)
    strides = list(attribute(node, "strides", [])) or [1] * rank
    dilations = list(attribute(node, "dilations", [])) or [1] * rank
    pads = list(attribute(node, "pads", [])) or [0] * (2 * rank)
    auto_pad = attribute(node, "auto_pad", "NOTSET")
    if auto_pad == "VALID":
        pads = [0] * (2 * rank)
    elif auto_pad in ("SAME_UPPER", "SAME_LOWER"):
        sizes = (g.dims(source) or [])[2:]
        if len(sizes) != rank or not all(isinstance(n, int) for n in sizes):
            raise ValueError("auto_pad SAME needs fixed spatial input sizes for its gradient")
        known = [n for n in sizes if isinstance(n, int)]
        same = same_pads(known, kernel, strides, dilations, lower=auto_pad == "SAME_LOWER")
        pads = [begin for begin, _ in same] + [end for _, end in same]
    return Window(
        kernel,
        [int(s) for s in strides],
        [int(d) for d in dilations],
        [int(p) for p in pads],
        int(attribute(node, "group", 1)),
    )


def _static_dims(g: GradContext, name: str) -> list[int]:
    dims = g.dims(name)
    if dims is None or not all(isinstance(d, int) for d in dims):
        raise ValueError(f"the gradient needs the fixed shape of the weights {name!r}")
    return [int(d) for d in dims]  # type: ignore[arg-type]


def output_padding(spatial: Dims, geometry: Window) -> list[int]:
    """The rows a ConvTranspose must add so that it restores a forward input of these sizes."""
    padding = []
    for axis, size in enumerate(spatial):
        stride = geometry.strides[axis]
        if stride == 1:
            padding.append(0)
            continue
        if not isinstance(size, int):
            raise ValueError("a strided convolution's input gradient needs fixed spatial input sizes")
        span = (geometry.kernel[axis] - 1) * geometry.dilations[axis] + 1
        padded = size + geometry.pads[axis] + geometry.pads[axis + geometry.rank]
        padding.append((padded - span) % stride)
    return padding


def weight_gradient(g: GradContext, x: str, dy: str, weight_dims: list[int], geometry: Window) -> str:
    """dW[m, c, k] = sum over batch and positions of dY[n, m, o] * Xpadded[n, g(m) c, o * s + k * d]."""
    rank, group = geometry.rank, geometry.group
    channels_per_group = weight_dims[1]
    spatial = list(range(2, 2 + rank))
    swap = [1, 0, *spatial]
    if group == 1:
        batch_of_channels = g.op("Transpose", [x], "x_channels_first", like=x, perm=swap)
    else:
        # [N, C, S] -> [N, g, C/g, S*] -> [C/g, g, N, S*] -> [C/g, g*N, S]: the group-major
        # channel order a grouped Conv expects.
        grouped = g.op("Reshape", [x, g.ints([0, group, channels_per_group, -1])], "grouped", like=x)
        moved = g.op("Transpose", [grouped], "moved", like=x, perm=[2, 1, 0, 3])
        shape = g.op(
            "Concat",
            [g.ints([channels_per_group, -1]), g.op("Shape", [x], "spatial", start=2)],
            "shape",
            axis=0,
        )
        batch_of_channels = g.op("Reshape", [moved, shape], "x_channels_first", like=x)
    kernels = g.op("Transpose", [dy], "dy_as_kernels", like=x, perm=swap)
    swapped = g.op(
        "Conv",
        [batch_of_channels, kernels],
        "weight_grad",
        like=x,
        strides=geometry.dilations,
        dilations=geometry.strides,
        pads=geometry.pads,
        group=group,
    )
    trimmed = g.op(
        "Slice", [swapped, g.ints([0] * rank), g.ints(weight_dims[2:]), g.ints(spatial)], "trim", like=x
    )
    return g.op("Transpose", [trimmed], "dw", like=x, perm=swap)


def _bias_gradient(g: GradContext, dy: str, like: str, rank: int) -> str:
    axes = [0, *range(2, 2 + rank)]
    return g.op("ReduceSum", [dy, g.ints(axes)], "bias_grad", like=like, keepdims=0)


def conv(g: GradContext, node: onnx.NodeProto, grads: Grads, needed: list[bool]) -> Grads:
    dy = grads[0]
    assert dy is not None
    x, w = node.input[0], node.input[1]
    weight_dims = _static_dims(g, w)
    geometry = window(g, node, weight_dims[2:], x)
    result: Grads = [None] * len(node.input)
    if needed[0]:
        spatial = (g.dims(x) or [None] * (2 + geometry.rank))[2:]
        result[0] = g.op(
            "ConvTranspose",
            [dy, w],
            "conv_dx",
            like=x,
            output_padding=output_padding(spatial, geometry),
            **geometry.attributes(),
        )
    if needed[1]:
        result[1] = weight_gradient(g, x, dy, weight_dims, geometry)
    if present(node, 2) and needed[2]:
        result[2] = _bias_gradient(g, dy, node.input[2], geometry.rank)
    return result


def conv_transpose(g: GradContext, node: onnx.NodeProto, grads: Grads, needed: list[bool]) -> Grads:
    """Y = ConvTranspose(X, W): dX = Conv(dY, W) and dW is Conv's weight gradient with X and dY swapped."""
    dy = grads[0]
    assert dy is not None
    if attribute(node, "output_shape", None) is not None or attribute(node, "auto_pad", "NOTSET") != "NOTSET":
        raise ValueError(
            "a transposed convolution needs explicit pads (not output_shape or auto_pad) for its gradient"
        )
    x, w = node.input[0], node.input[1]
    weight_dims = _static_dims(g, w)
    geometry = window(g, node, weight_dims[2:], x)
    result: Grads = [None] * len(node.input)
    if needed[0]:
        result[0] = g.op("Conv", [dy, w], "conv_transpose_dx", like=x, **geometry.attributes())
    if needed[1]:
        result[1] = weight_gradient(g, dy, x, weight_dims, geometry)
    if present(node, 2) and needed[2]:
        result[2] = _bias_gradient(g, dy, node.input[2], geometry.rank)
    return result


RULES: dict[str, Rule] = {"Conv": conv, "ConvTranspose": conv_transpose}
