"""The names of the `Layer.kind` members, read from the generated proto alone.

The catalogue (mlspec.spec.layer_kinds) declares exactly these kinds, in this order
(tests/test_kind_tables.py), but loading it means loading every family's checks and shape rules;
`mlspec --help`, which only lists the names, reads them here instead.
"""

from __future__ import annotations

from mlspec._proto import layers_pb2

PROTO_KINDS: tuple[str, ...] = tuple(
    field.name for field in layers_pb2.Layer.DESCRIPTOR.oneofs_by_name["kind"].fields
)
"""The members of `Layer.kind`, in field order."""
