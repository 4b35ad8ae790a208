"""Hypothesis strategies that fill any schema message from its descriptor.

Driving generation by the descriptor means a field added to the schema is covered by the round
trip tests without anyone remembering to extend them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from hypothesis import strategies as st

M = TypeVar("M", bound=Message)

# Doubles must compare equal after a round trip, so NaN is left out; infinities are kept.
_DOUBLES = st.floats(allow_nan=False, width=64)
_INT64 = st.integers(-(2**63), 2**63 - 1)
_TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=8)
_BYTES = st.binary(max_size=16)
_MAX_REPEATED = 2


def _scalar(field: Any) -> st.SearchStrategy[Any]:
    kind = field.type
    if kind == FieldDescriptor.TYPE_DOUBLE:
        return _DOUBLES
    if kind == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if kind == FieldDescriptor.TYPE_STRING:
        return _TEXT
    if kind == FieldDescriptor.TYPE_BYTES:
        return _BYTES
    if kind == FieldDescriptor.TYPE_ENUM and field.enum_type is not None:
        return st.sampled_from([value.number for value in field.enum_type.values])
    if kind == FieldDescriptor.TYPE_INT64:
        return _INT64
    raise AssertionError(f"schema uses a field type the strategy does not know: {field.full_name}")


@st.composite
def filled(draw: st.DrawFn, message_type: type[M], forced: Mapping[str, str] | None = None) -> M:
    """A message of `message_type` with random contents; `forced` picks oneof members by oneof name."""
    message = message_type()
    _fill(draw, message, forced or {})
    return message


def _fill(draw: st.DrawFn, message: Message, forced: Mapping[str, str]) -> None:
    descriptor = message.DESCRIPTOR
    chosen: dict[str, str | None] = {}
    for group in descriptor.oneofs:
        names: list[str | None] = [None, *(f.name for f in group.fields)]
        chosen[group.name] = forced.get(group.name) or draw(st.sampled_from(names))
    for field in descriptor.fields:
        oneof = field.containing_oneof
        if oneof is not None and chosen[oneof.name] != field.name:
            continue
        _fill_field(draw, message, field, in_oneof=oneof is not None)


def _fill_field(draw: st.DrawFn, message: Message, field: Any, *, in_oneof: bool) -> None:
    target: Any = getattr(message, field.name)
    if field.message_type is not None and field.message_type.GetOptions().map_entry:
        target.update(draw(st.dictionaries(_TEXT, _TEXT, max_size=_MAX_REPEATED)))
    elif field.message_type is not None and field.is_repeated:
        for _ in range(draw(st.integers(0, _MAX_REPEATED))):
            _fill(draw, target.add(), {})
    elif field.message_type is not None:
        if in_oneof or draw(st.booleans()):
            target.SetInParent()
            _fill(draw, target, {})
    elif field.is_repeated:
        target.extend(draw(st.lists(_scalar(field), max_size=_MAX_REPEATED)))
    else:
        setattr(message, field.name, draw(_scalar(field)))
