from __future__ import annotations

import typer
from typer.core import TyperGroup
from typer.testing import CliRunner

from plugin.cli import app

runner = CliRunner()

COMMANDS = [
    "run",
    "listen",
    "api",
    "worker",
    "synth",
    "index",
    "search",
    "evaluate",
    "train",
    "reindex",
    "convert",
    "migrate",
    "send",
]


def test_the_command_set_is_exactly_the_stable_one() -> None:
    """Names compared whole: removing ``index`` is caught although "reindex" remains."""
    group = typer.main.get_command(app)
    assert isinstance(group, TyperGroup)
    assert sorted(group.commands) == sorted(COMMANDS)


def test_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"], terminal_width=200)
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output
