"""The ``simcase`` command line (typer). Each module registers its own commands."""

from plugin.cli import (  # noqa: F401  (registers)
    archive,
    convert,
    model_commands,
    send,
    services,
    synth,
)
from plugin.cli._app import app, main

__all__ = ["app", "main"]
