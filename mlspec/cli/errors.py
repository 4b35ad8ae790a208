"""Turning failures into one line and an exit code.

Users of a command line want the problem and the fix, not a stack; developers chasing a bug set
MLSPEC_DEBUG=1 and get the traceback back. Usage errors stay with click (exit 2).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import ParamSpec, TypeVar

import typer

from mlspec.spec.errors import MlspecError, ValidationError
from mlspec.spec.text import printable

P = ParamSpec("P")
R = TypeVar("R")


def _usage_errors() -> tuple[type[BaseException], ...]:
    """The parser's usage-error classes: typer 0.21 and later raise their own TyperException,
    earlier ones click's ClickException (mlspec[federated]'s Flower holds typer below 0.21), and
    typer 0.29 and later bundle click instead of depending on it, so click may be absent."""
    found: list[type[BaseException]] = []
    if hasattr(typer, "TyperException"):
        found.append(typer.TyperException)
    try:
        import click
    except ImportError:
        return tuple(found)
    return (*found, click.exceptions.ClickException)


# Exits the command chose and the parser's usage errors pass through untouched.
_PASS_THROUGH: tuple[type[BaseException], ...] = (typer.Exit, typer.Abort, *_usage_errors(), SystemExit)

EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what `cat` reports when `head` stops reading


def debug_enabled() -> bool:
    return os.environ.get("MLSPEC_DEBUG", "") not in ("", "0")


def fail(message: str, code: int = EXIT_FAILURE) -> typer.Exit:
    """Print `message` as the single error line and return the exit to raise."""
    first_line = printable(" ".join(message.split()))
    typer.echo(f"error: {first_line}", err=True)
    return typer.Exit(code)


def one_line_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Wrap a command so that any failure prints one line and exits non-zero."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except _PASS_THROUGH:
            raise  # exits chosen by the command, and click's usage errors (exit 2)
        except BrokenPipeError:
            # The reader (`mlspec demo | head`) has gone: nothing more can be said to it, and
            # Python would otherwise complain again while flushing stdout at exit.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            raise typer.Exit(EXIT_BROKEN_PIPE) from None
        except KeyboardInterrupt:
            if debug_enabled():
                raise
            raise fail("interrupted", EXIT_INTERRUPTED) from None
        except MlspecError as exc:
            if debug_enabled():
                raise
            raise fail(_summary(exc)) from None
        except OSError as exc:
            if debug_enabled():
                raise
            where = f"{exc.filename}: " if exc.filename else ""
            raise fail(f"{where}{exc.strerror or exc}") from None
        except Exception as exc:
            if debug_enabled():
                raise
            raise fail(
                f"internal error ({type(exc).__name__}: {exc}); rerun with MLSPEC_DEBUG=1 for the traceback "
                "and report it"
            ) from None

    return wrapper


def _summary(exc: MlspecError) -> str:
    if isinstance(exc, ValidationError) and len(exc.problems) > 1:
        return f"{exc.problems[0]} (and {len(exc.problems) - 1} more; run `mlspec validate` to see all)"
    if isinstance(exc, ValidationError) and exc.problems:
        return str(exc.problems[0])
    return str(exc)


def echo_stdout(text: str) -> None:
    """Print a line; control characters from names in files are escaped, never obeyed."""
    text = printable(text)
    sys.stdout.write(text if text.endswith("\n") else text + "\n")
