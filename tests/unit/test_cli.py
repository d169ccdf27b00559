from __future__ import annotations

import pytest
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
]


def test_help_lists_every_command() -> None:
    result = runner.invoke(app, ["--help"], terminal_width=200)
    assert result.exit_code == 0
    for command in COMMANDS:
        assert command in result.output


@pytest.mark.parametrize(
    ("args", "issue"),
    [
        (["convert", "x", "--out", "y"], 3),
        (["index", "x"], 6),
        (["search", "x"], 6),
        (["reindex"], 6),
        (["listen"], 7),
    ],
)
def test_unfinished_commands_say_so_and_fail(args: list[str], issue: int) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert f"issue {issue}" in result.output
