"""The check every hostile-file test makes: one importer error, naming the file and the rule."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest


def assert_refused(
    importer: Callable[[Path], Any], error: type[Exception], path: Path, *fragments: str
) -> str:
    """Import `path`, expecting `error` whose message starts with the path and holds `fragments`."""
    with pytest.raises(error) as caught:
        importer(path)
    message = str(caught.value)
    assert message.startswith(str(path)), message
    for fragment in fragments:
        assert fragment in message, message
    return message
