"""The ``simcase`` command line (typer). Each module registers its own commands."""

from plugin.cli import archive, convert, model_commands, services, synth  # noqa: F401  (registers)
from plugin.cli._app import app, main

__all__ = ["app", "main"]
