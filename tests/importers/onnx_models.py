"""ONNX models written the way exporters write them, built with onnx.helper, and the checks
shared by the import tests (running the original and the imported spec's export side by side)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from mlspec._proto import model_pb2
from mlspec.convert import to_onnx
from mlspec.spec.validate import find_problems
from tests.support.onnx_nodes import make_node

RNG_SEED = 1234


@dataclass
class GraphBuilder:
    """Collects nodes and weights; weights go to initializers or, as torch often writes them,
    into Constant nodes."""

    opset: int = 21
    weights_in_constants: bool = False
    nodes: list[onnx.NodeProto] = field(default_factory=list)
    initializers: list[onnx.TensorProto] = field(default_factory=list)
    rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(RNG_SEED))
    _count: int = 0

    def weight(self, name: str, array: np.ndarray) -> str:
        tensor = numpy_helper.from_array(np.asarray(array), name)
        if self.weights_in_constants:
            self.nodes.append(helper.make_node("Constant", [], [name], name=f"{name}_const", value=tensor))
        else:
            self.initializers.append(tensor)
        return name

    def random(self, name: str, *shape: int, scale: float = 0.5) -> str:
        return self.weight(name, (self.rng.standard_normal(shape) * scale).astype(np.float32))

    def positive(self, name: str, *shape: int) -> str:
        return self.weight(name, self.rng.uniform(0.5, 1.5, shape).astype(np.float32))

    def ints(self, name: str, values: Sequence[int]) -> str:
        return self.weight(name, np.array(values, dtype=np.int64))

    def node(
        self, op_type: str, inputs: Sequence[str], outputs: int = 1, name: str = "", **attrs: object
    ) -> str:
        """Add a node; returns its first output's name (the rest are "{first}_1", ...)."""
        self._count += 1
        first = f"t{self._count}_{op_type.lower()}"
        names = [first] + [f"{first}_{i}" for i in range(1, outputs)]
        self.nodes.append(make_node(op_type, inputs, names, attrs, name=name))
        return first

    def build(
        self,
        inputs: Sequence[tuple[str, int, Sequence[int | str]]],
        outputs: Sequence[str],
        *,
        output_names: Sequence[str] | None = None,
        output_dims: Sequence[int | str] | None = None,
        metadata: dict[str, str] | None = None,
    ) -> onnx.ModelProto:
        """Graph outputs are renamed through Identity nodes, as torch.onnx.export writes them.

        `output_dims` declares the outputs' shape where inference cannot find it (opset 9 graphs
        whose Reshape target is computed), as exporters declare it.
        """
        final = list(output_names or [f"output_{i}" for i in range(len(outputs))])
        for source, name in zip(outputs, final, strict=True):
            self.nodes.append(helper.make_node("Identity", [source], [name]))
        graph = helper.make_graph(
            self.nodes,
            "exported",
            [helper.make_tensor_value_info(n, t, list(s)) for n, t, s in inputs],
            [
                helper.make_tensor_value_info(n, TensorProto.FLOAT, list(output_dims))
                if output_dims is not None
                else helper.make_tensor_value_info(n, TensorProto.UNDEFINED, None)
                for n in final
            ],
            self.initializers,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", self.opset)])
        model.ir_version = 7 if self.opset < 15 else 8
        for key, value in (metadata or {}).items():
            model.metadata_props.add(key=key, value=value)
        inferred = onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
        onnx.checker.check_model(inferred, full_check=True)
        return inferred


def flatten_via_shape(b: GraphBuilder, source: str, name: str = "") -> str:
    """torch.flatten(x, 1) as torch.onnx.export writes it with a dynamic batch:
    Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1]))."""
    shape = b.node("Shape", [source])
    batch = b.node("Gather", [shape, b.weight(f"{source}_idx", np.array(0, np.int64))], axis=0)
    if b.opset >= 13:
        unsqueezed = b.node("Unsqueeze", [batch, b.ints(f"{source}_axes", [0])])
    else:
        unsqueezed = b.node("Unsqueeze", [batch], axes=[0])
    target = b.node("Concat", [unsqueezed, b.ints(f"{source}_rest", [-1])], axis=0)
    return b.node("Reshape", [source, target], name=name)


# What an exported conv -> batch norm -> relu -> max pool -> GAP -> flatten -> linear -> softmax
# classifier imports as.
EXPORTED_CNN_KINDS = [
    "convolution",
    "batch_norm",
    "activation",
    "pooling",
    "pooling",
    "reshape",
    "inner_product",
    "softmax",
]


def run_onnx(model: onnx.ModelProto, feeds: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    names = [output.name for output in session.get_outputs()]
    return dict(zip(names, session.run(names, feeds), strict=True))


def assert_export_matches(
    original: onnx.ModelProto, spec: model_pb2.Model, feeds: dict[str, np.ndarray], atol: float = 1e-5
) -> dict[str, np.ndarray]:
    """The imported spec is valid and its export yields every original output, equal within `atol`."""
    assert find_problems(spec) == []
    expected = run_onnx(original, feeds)
    actual = run_onnx(to_onnx(spec), feeds)
    for name, value in expected.items():
        assert name in actual, f"export lost output {name!r}; it has {sorted(actual)}"
        if value.dtype.kind in "OSU":
            assert actual[name].tolist() == value.tolist()
        else:
            np.testing.assert_allclose(actual[name], value, atol=atol, rtol=1e-5, err_msg=name)
    return actual


def kinds(spec: model_pb2.Model) -> list[str]:
    return [str(layer.WhichOneof("kind")) for layer in spec.network.layers]


def image_batch(*shape: int, seed: int = 7) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)
