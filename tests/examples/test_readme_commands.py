"""Every command the example READMEs show, taken verbatim from their code blocks.

Each `python examples/...` line must name a script that exists and give arguments its own parser
accepts (parsing stops there: the full-size runs belong to the examples' own tests, at --quick
size). One quick line runs for real as the README says, in a fresh folder holding a copy of
examples/, with `python` found on PATH as after `source .venv/bin/activate`: the check that a
user's first copy-paste finds mlspec.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any, NoReturn

import pytest

from tests.examples.loader import EXAMPLES, load_example

BLOCK = re.compile(r"^```[a-z]*\n(.*?)^```", re.MULTILINE | re.DOTALL)
PYTHON = ("python", ".venv/bin/python")


def _commands() -> list[tuple[str, list[str]]]:
    found = []
    for readme in sorted(EXAMPLES.glob("*/README.md")):
        for block in BLOCK.findall(readme.read_text(encoding="utf-8")):
            for line in block.splitlines():
                words = shlex.split(line, comments=True)
                if words and words[0] in PYTHON and _is_example_program(words[1]):
                    found.append((f"{readme.parent.name}: {line.split('#')[0].strip()}", words))
    return found


def _is_example_program(script: str) -> bool:
    """examples/NAME/NAME.py, the example programs (helper scripts such as a web build are not)."""
    parts = Path(script).parts
    return len(parts) == 3 and parts[0] == "examples" and parts[2] == f"{parts[1]}.py"


COMMANDS = _commands()


class _ParsedError(Exception):
    pass


def test_every_example_readme_shows_commands() -> None:
    shown = {label.split(":")[0] for label, _ in COMMANDS}
    programs = {
        path.parent.name
        for path in EXAMPLES.glob("*/README.md")
        if (path.parent / f"{path.parent.name}.py").is_file()
    }
    assert shown == programs


@pytest.mark.parametrize(("label", "words"), COMMANDS, ids=[label for label, _ in COMMANDS])
def test_command_names_a_script_whose_parser_takes_its_arguments(
    label: str, words: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    script = Path(words[1])
    assert script.parts[0] == "examples" and (EXAMPLES.parent / script).is_file(), label
    module = load_example(script.stem)
    parse = argparse.ArgumentParser.parse_args

    def parse_then_stop(self: argparse.ArgumentParser, args: Any = None, namespace: Any = None) -> NoReturn:
        parse(self, args, namespace)  # exits 2 naming the argument on a bad one
        raise _ParsedError

    monkeypatch.setattr(argparse.ArgumentParser, "parse_args", parse_then_stop)
    with pytest.raises(_ParsedError):
        module.main(words[2:])


def test_a_quick_line_runs_verbatim_in_a_fresh_folder(tmp_path: Path) -> None:
    label, words = next(
        (label, words)
        for label, words in COMMANDS
        if words[1:] == ["examples/digits_cnn/digits_cnn.py", "--quick"]
    )
    shutil.copytree(EXAMPLES, tmp_path / "examples")
    environment = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    environment.pop("PYTHONPATH", None)
    result = subprocess.run(
        words, check=False, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, f"{label}\n{result.stdout}\n{result.stderr}"
    assert "accuracy" in result.stdout.lower(), result.stdout
