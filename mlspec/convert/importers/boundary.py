"""The last line of defence of an import: no exception leaves it except an mlspec error.

The importers check what they know hostile files do (onnx_checks, onnx_budget, onnx_external,
and the Core ML reader's own checks). A file malformed in a way no check foresaw can still make
mapping code fail with a ValueError or KeyError deep inside; at the boundary that becomes the
importer's own error naming the file, so the CLI prints one line, not "internal error". The
original exception stays chained (MLSPEC_DEBUG=1 prints it), and the fuzzers count these
separately ("malformed" in the message), as the gaps the checks should close next.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from mlspec.spec.errors import MlspecError

MALFORMED = "malformed or unsupported"


@contextmanager
def import_boundary(error: type[MlspecError], where: str, kind: str) -> Iterator[None]:
    try:
        yield
    except MlspecError:
        raise
    except Exception as exc:  # anything else is a file no check foresaw
        detail = "".join(ch if ch.isprintable() else "?" for ch in str(exc)[:160])
        raise error(
            f"{where}: a {MALFORMED} {kind} file ({type(exc).__name__}: {detail}); re-export it from its "
            "source framework"
        ) from exc
