"""Making names from a file safe to print: control characters escaped, long names cut.

Layer names, labels and metadata come from files that anyone may have written. Printed raw, an
ESC sequence clears the user's screen or retitles the window, and a 20 MB layer name repeated in
every message makes each message 20 MB. Everything mlspec prints passes through `printable`;
messages that quote a name use `shown`, which also cuts it to a readable length.
"""

from __future__ import annotations

import re

# C0 and C1 controls except tab and newline, DEL, and the Unicode format characters terminals
# act on (bidirectional overrides and isolates, which reorder what the reader sees).
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
SHOWN_CHARACTERS = 80
"""How much of a name messages quote; the rest is summarised by its length."""


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str) -> str:
    """`text` with every control character a terminal would act on written as an escape."""
    return _UNSAFE.sub(_escape, text)


def shown(name: str, limit: int = SHOWN_CHARACTERS) -> str:
    """A name as messages quote it: escaped, and cut to `limit` characters with its length."""
    if len(name) > limit:
        return f"{printable(name[:limit])}...({len(name)} characters)"
    return printable(name)
