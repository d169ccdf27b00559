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
