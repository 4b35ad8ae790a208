"""`mlspec apply-state`: write a state file trained outside Python back into the spec.

A web page or a Node.js app trains the portable artifacts (js/, examples/web/) and saves the
state file; this command checks it against the spec like any untrusted input and writes the
updated spec atomically, so a bad file changes nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlspec.cli.errors import echo_stdout, one_line_errors
from mlspec.cli.options import ModelArg, check_output_file
from mlspec.cli.typer_app import app

StateArg = Annotated[
    Path, typer.Argument(help="Portable state file (docs/portable_state.md), e.g. a page's download.")
]


@app.command("apply-state")
@one_line_errors
def apply_state_command(
    *,
    model: ModelArg,
    state: StateArg,
    output: Annotated[Path, typer.Option("--output", "-o", help="The updated spec to write.")],
) -> None:
    """Write the trained tensors of a portable state file into a copy of the spec.

    Every tensor must be an updatable tensor of the spec, a running statistic of an updatable
    batch norm, or an updatable tensor's optimizer state, with the spec's shape, float32 and
    finite (running variances non-negative); anything else is refused and nothing is written.

    Example: mlspec apply-state updatable.mlspec trained.ckpt -o updated.mlspec
    """
    check_output_file(output, inputs=(model, state))
    from mlspec.runtime.state_apply import apply_state
    from mlspec.spec.io import load, save

    updated = apply_state(load(model), state)
    save(updated, output)
    echo_stdout(f"wrote {output}: the trained tensors of {state}")
