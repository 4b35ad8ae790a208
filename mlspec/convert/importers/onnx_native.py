"""onnx's C++ steps (shape inference, version converter) in a child process.

onnx_checks proves what the known crashes need, but onnx's C++ has more corners than a Python
check can cover (fuzzing found SIGSEGV and SIGFPE in both steps). So the steps run in a forked
child: a crash there becomes an OnnxImportError naming the signal, and the importing process
(a CLI run, a notebook, a server) lives on. The child inherits the model through fork and sends
back serialized protos through a pipe; no Python object crosses the boundary.

Where fork does not exist (Windows) the steps run in-process, guarded by onnx_checks alone.
"""

from __future__ import annotations

import faulthandler
import os
import signal
import struct
import warnings
from collections.abc import Callable

import onnx

from mlspec.convert.importers.onnx_checks import OnnxImportError

_HEADER = struct.Struct("<BQ")
_OK, _FAILED = 0, 1

Step = Callable[[], list[bytes]]

ISOLATED = True
"""Whether run_isolated forks. Only a process that is itself a disposable child may turn it off:
the fuzzer's worker (tools/fuzz), which runs under resource limits and whose death by a signal
its parent counts against mlspec; there a fork per input cost five sixths of the import rate."""


def run_isolated(step: Step, what: str, where: str) -> list[bytes]:
    """Run `step` (returning serialized protos) in a child; its death becomes an OnnxImportError.

    An exception inside the step comes back as the RuntimeError text onnx gives, for the caller
    to word; a signal or an exit without an answer is reported here.
    """
    if not ISOLATED or not hasattr(os, "fork"):
        return step()
    read_end, write_end = os.pipe()
    with warnings.catch_warnings():  # fork in a threaded process: the child only runs onnx C++
        warnings.simplefilter("ignore", DeprecationWarning)
        pid = os.fork()
    if pid == 0:  # pragma: no cover - runs in the child, which never returns
        os.close(read_end)
        _child(step, write_end)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as pipe:
        answer = pipe.read()
    _, status = os.waitpid(pid, 0)
    if os.WIFSIGNALED(status):
        name = signal.Signals(os.WTERMSIG(status)).name
        raise OnnxImportError(
            f"{where}: onnx's {what} crashed on this model ({name}); the file is malformed or hits an "
            "onnx bug. Re-export the model, or check it with onnx.checker.check_model"
        )
    return _decode(answer, what, where)


def _child(step: Step, fd: int) -> None:  # pragma: no cover - runs in the child
    code = 0
    faulthandler.disable()  # a crash here is reported by the parent, not dumped by the child
    try:
        try:
            parts, kind = step(), _OK
        except Exception as exc:  # onnx raises bare RuntimeError/ValueError from C++
            parts, kind = [str(exc).encode("utf-8", "replace")[:2000]], _FAILED
        with os.fdopen(fd, "wb") as pipe:
            for part in parts:
                pipe.write(_HEADER.pack(kind, len(part)))
                pipe.write(part)
    except BaseException:
        code = 1
    finally:
        os._exit(code)


def _decode(answer: bytes, what: str, where: str) -> list[bytes]:
    parts: list[bytes] = []
    offset = 0
    while offset < len(answer):
        kind, size = _HEADER.unpack_from(answer, offset)
        offset += _HEADER.size
        part = answer[offset : offset + size]
        offset += size
        if kind == _FAILED:
            raise NativeStepError(part.decode("utf-8", "replace"))
        parts.append(part)
    if not parts:
        raise OnnxImportError(f"{where}: onnx's {what} ended without an answer (out of memory?)")
    return parts


class NativeStepError(Exception):
    """onnx's step raised (not crashed); the text is onnx's message, for the caller to word."""


def parse_model(data: bytes) -> onnx.ModelProto:
    model = onnx.ModelProto()
    model.ParseFromString(data)
    return model
