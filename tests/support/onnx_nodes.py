"""onnx.helper.make_node for attributes held in a mapping, which the type checker can follow.

make_node takes a node's attributes as **kwargs beside its own keyword parameters (name, domain,
doc_string, overload), so a dict of attributes spread into it cannot be typed. `make_node` here
builds the same node: attributes sorted by name, None values left out, as onnx's does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import onnx
from onnx import helper


def make_node(
    op_type: str,
    inputs: Sequence[str],
    outputs: Sequence[str],
    attributes: Mapping[str, object],
    *,
    name: str = "",
    domain: str | None = None,
) -> onnx.NodeProto:
    node = helper.make_node(op_type, inputs, outputs, name=name, domain=domain)
    node.attribute.extend(
        helper.make_attribute(key, value) for key, value in sorted(attributes.items()) if value is not None
    )
    return node
