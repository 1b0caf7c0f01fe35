"""Every `lmbench ...` command an error message or hint suggests exists: its --help answers.

The texts are collected from the harness's and the labs' source (string literals holding
`` `lmbench <command> ...` ``), so a new message that names a command that does not exist
(`lmbench list runs` once did) fails here, not in a user's terminal.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from lmbench.cli import cli

ROOT = Path(__file__).resolve().parents[2]
_SUGGESTED = re.compile(r"`lmbench ((?:[a-z][a-z-]*)(?: [a-z][a-z-]*)?)")


def suggested_commands() -> dict[tuple[str, ...], str]:
    """Words of each suggested command (``("list", "runs")``) -> one place that suggests it."""
    found: dict[tuple[str, ...], str] = {}
    for root in (ROOT / "harness" / "lmbench", ROOT / "plugins"):
        for path in sorted(root.rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    for match in _SUGGESTED.finditer(node.value):
                        words = tuple(match.group(1).split())
                        found.setdefault(words, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_the_collector_finds_the_suggestions():
    found = suggested_commands()
    assert ("list", "runs") in found and ("compare",) in {w[:1] for w in found} and len(found) > 10


@pytest.mark.parametrize("words, where", sorted(suggested_commands().items()))
def test_every_suggested_command_exists(words, where):
    """The command parses with --help; a second word must be one of its subcommands or argument choices
    (click answers --help before it checks a choice, so that is checked here)."""
    said = f"{where} suggests `lmbench {' '.join(words)}`"
    assert words[0] in cli.commands, f"{said}, but there is no command {words[0]!r}"
    result = CliRunner().invoke(cli, [words[0], "--help"])
    assert result.exit_code == 0, f"{said}: {result.output}"
    if len(words) == 2:
        command = cli.commands[words[0]]
        subcommands = list(getattr(command, "commands", {}))
        choices = [c for p in command.params if getattr(p.type, "choices", None) for c in p.type.choices]
        if subcommands or choices:
            assert words[1] in subcommands + choices, f"{said}, but {words[0]} takes {subcommands + choices}"
        if subcommands:
            assert CliRunner().invoke(cli, [*words, "--help"]).exit_code == 0, said
