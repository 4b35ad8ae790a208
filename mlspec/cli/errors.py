"""Turning failures into one line and an exit code.

Users of a command line want the problem and the fix, not a stack; developers chasing a bug set
MLSPEC_DEBUG=1 and get the traceback back. Usage errors stay with click (exit 2).
"""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from mlspec.spec.errors import MlspecError, ValidationError
from mlspec.spec.text import printable

if TYPE_CHECKING:
    import typer

P = ParamSpec("P")
R = TypeVar("R")

# typer is imported inside the functions that need it: the quick commands (cli/quick.py) report
# their failures through `reported` without loading typer at all.


def _pass_through() -> tuple[type[BaseException], ...]:
    """Exits the command chose and the parser's usage errors, which pass through untouched.

    The parser's usage-error classes: typer 0.21 and later raise their own TyperException,
    earlier ones click's ClickException (mlspec[federated]'s Flower holds typer below 0.21), and
    typer 0.29 and later bundle click instead of depending on it, so click may be absent."""
    import typer

    found: list[type[BaseException]] = [typer.Exit, typer.Abort, SystemExit]
    if hasattr(typer, "TyperException"):
        found.append(typer.TyperException)
    try:
        import click
    except ImportError:
        return tuple(found)
    return (*found, click.exceptions.ClickException)


EXIT_FAILURE = 1
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141  # 128 + SIGPIPE, what `cat` reports when `head` stops reading


def debug_enabled() -> bool:
    return os.environ.get("MLSPEC_DEBUG", "") not in ("", "0")


def error_line(message: str) -> None:
    """Print `message` as the single error line on stderr (written and flushed as click.echo does)."""
    first_line = printable(" ".join(message.split()))
    sys.stderr.write(f"error: {first_line}\n")
    sys.stderr.flush()


def fail(message: str, code: int = EXIT_FAILURE) -> typer.Exit:
    """Print `message` as the single error line and return the exit to raise."""
    import typer

    error_line(message)
    return typer.Exit(code)


def reported(exc: BaseException) -> int | None:
    """Print the one line for a command's failure and return its exit code, or None when the
    failure must propagate unchanged: MLSPEC_DEBUG=1 (the traceback), or not a failure at all.

    The typer commands (`one_line_errors`) and the quick path (cli/quick.py) both report here."""
    if isinstance(exc, BrokenPipeError):
        # The reader (`mlspec demo | head`) has gone: nothing more can be said to it, and
        # Python would otherwise complain again while flushing stdout at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    if debug_enabled() or not isinstance(exc, Exception | KeyboardInterrupt):
        return None
    if isinstance(exc, KeyboardInterrupt):
        error_line("interrupted")
        return EXIT_INTERRUPTED
    if isinstance(exc, MlspecError):
        error_line(_summary(exc))
    elif isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        error_line(f"{where}{exc.strerror or exc}")
    else:
        error_line(
            f"internal error ({type(exc).__name__}: {exc}); rerun with MLSPEC_DEBUG=1 for the traceback "
            "and report it"
        )
    return EXIT_FAILURE


def one_line_errors(command: Callable[P, R]) -> Callable[P, R]:
    """Wrap a command so that any failure prints one line and exits non-zero."""

    @functools.wraps(command)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        import typer

        try:
            return command(*args, **kwargs)
        except _pass_through():
            raise  # exits chosen by the command, and click's usage errors (exit 2)
        except BaseException as exc:
            code = reported(exc)
            if code is None:
                raise
            raise typer.Exit(code) from None

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
