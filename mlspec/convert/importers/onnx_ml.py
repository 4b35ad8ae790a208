"""ZipMap outputs: scikit-learn classifiers as skl2onnx writes them by default.

skl2onnx ends a classifier with `ZipMap` (domain ai.onnx.ml), which turns the [batch, classes]
probability tensor into a sequence of {label: probability} maps. A map is not a tensor: nothing
downstream of mlspec (training, the exported inference model's probabilities output) can use it,
and the tensor it wraps holds the same numbers. So the ZipMap is dropped and its output name is
given to the tensor it read: the output keeps its name and becomes float [batch, classes], which
makes the model a classifier when a Softmax writes it (its labels come from the label output's
lookup table, or from ZipMap's own class labels). A ZipMap that reads a graph input, or whose
output something else reads, is refused by name.
"""

from __future__ import annotations

import onnx

from mlspec.convert.importers.onnx_checks import OnnxImportError

ML_DOMAIN = "ai.onnx.ml"


def drop_zipmaps(model: onnx.ModelProto, where: str) -> dict[str, list[str] | list[int]]:
    """Replace each ZipMap graph output by the probability tensor it wraps, in place.

    Returns output name -> the class labels the ZipMap declared, in class order.
    """
    graph = model.graph
    outputs = {value.name: value for value in graph.output}
    readers = {name for node in graph.node for name in node.input}
    inputs = {value.name for value in graph.input}
    labels: dict[str, list[str] | list[int]] = {}
    for node in [n for n in graph.node if n.op_type == "ZipMap" and n.domain == ML_DOMAIN]:
        source, name = node.input[0], node.output[0]
        if name not in outputs or name in readers or source in inputs:
            raise OnnxImportError(
                f'{where}: ZipMap node "{node.name or name}" turns "{source}" into a sequence of maps, '
                "which mlspec imports only as a graph output computed inside the model; re-export "
                "without ZipMap (skl2onnx: options={'zipmap': False})"
            )
        graph.node.remove(node)
        outputs[name].type.CopyFrom(onnx.helper.make_tensor_type_proto(onnx.TensorProto.FLOAT, None))
        if source in outputs:  # the probabilities are an output already: the map adds nothing
            graph.output.remove(outputs.pop(name))
        else:
            _rename(graph, source, name)
        labels[name] = _declared_labels(node)
    return labels


def _rename(graph: onnx.GraphProto, old: str, new: str) -> None:
    for node in graph.node:
        node.input[:] = [new if value == old else value for value in node.input]
        node.output[:] = [new if value == old else value for value in node.output]
    for value in graph.value_info:
        if value.name == old:
            value.name = new


def _declared_labels(node: onnx.NodeProto) -> list[str] | list[int]:
    attrs = {attr.name: onnx.helper.get_attribute_value(attr) for attr in node.attribute}
    if "classlabels_strings" in attrs:
        return [v.decode() if isinstance(v, bytes) else str(v) for v in attrs["classlabels_strings"]]
    return [int(value) for value in attrs.get("classlabels_int64s", [])]
