"""The typer application and helpers shared by the command modules."""

from __future__ import annotations

import sys
from typing import NoReturn

import typer

from plugin.logging_setup import configure_logging

__all__ = ["app", "fail", "main"]

app = typer.Typer(
    name="simcase",
    help="Similar-case search for brain-tumour MRI, for a PACS. Not for diagnostic use.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Debug logging."),
) -> None:
    configure_logging("DEBUG" if verbose else "INFO")


def fail(message: str, code: int = 1) -> NoReturn:
    """Print a one-line reason on stderr and exit non-zero."""
    typer.echo(f"simcase: {message}", err=True)
    raise typer.Exit(code)


def main() -> None:
    """Console-script entry point."""
    sys.exit(app())
