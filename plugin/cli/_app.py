"""The typer application and helpers shared by the command modules."""

from __future__ import annotations

import re
import sys
from typing import Any, NoReturn
from urllib.parse import urlsplit

import psycopg
import requests
import typer
from procrastinate.exceptions import ConnectorException
from typer.core import TyperGroup

from indexer.database import describe_database, unreachable_reason
from indexer.errors import DatabaseUnavailableError, MissingExtensionError
from plugin.logging_setup import configure_logging
from plugin.settings import get_settings

__all__ = ["EXIT_ERROR", "EXIT_UNAVAILABLE", "app", "fail", "main"]

#: Exit status of a command that could not do its work (bad input, bad settings).
EXIT_ERROR = 1
#: Exit status when a service the command needs (PostgreSQL) cannot be reached: trying
#: again later may succeed.
EXIT_UNAVAILABLE = 3


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    """Print a one-line reason on stderr and exit non-zero."""
    typer.echo(f"simcase: {message}", err=True)
    raise typer.Exit(code)


def _database_target() -> str:
    """Where the settings point the database (no password), for an error message."""
    settings = get_settings()
    if settings.database_url:
        return describe_database(settings.database_url)
    return f"the embedded server in {settings.data_dir / 'pgdata'}"


def _pacs_failure(exc: requests.RequestException) -> tuple[str, int]:
    """One line for a DICOMweb request that failed (the server's scheme, host and port,
    no credentials or path), and the exit status: unavailable unless the PACS answered
    a client error."""
    url = exc.request.url if exc.request is not None and exc.request.url else ""
    parts = urlsplit(str(url))
    where = f"{parts.scheme}://{parts.hostname}:{parts.port or ''}".rstrip(":")
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        status = exc.response.status_code
        code = EXIT_UNAVAILABLE if status >= 500 else EXIT_ERROR
        return f"the PACS at {where} answered HTTP {status}", code
    errno = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(exc))
    reason = errno.group(1).strip() if errno else type(exc).__name__
    return f"cannot reach the PACS at {where}: {reason}", EXIT_UNAVAILABLE


class _Commands(TyperGroup):
    """Every command's failure to reach PostgreSQL or the PACS, in one place: one line
    on stderr naming the server (never a password) and :data:`EXIT_UNAVAILABLE`, not a
    traceback."""

    def invoke(self, ctx: Any) -> Any:  # typer._click.core.Context (typer vendors click)
        try:
            return super().invoke(ctx)
        except DatabaseUnavailableError as exc:
            fail(str(exc), EXIT_UNAVAILABLE)
        except MissingExtensionError as exc:
            fail(str(exc))
        except (psycopg.OperationalError, ConnectorException) as exc:  # lost during the run
            reason = unreachable_reason(exc, get_settings().database_url)
            fail(f"PostgreSQL at {_database_target()} is unreachable: {reason}", EXIT_UNAVAILABLE)
        except requests.RequestException as exc:
            fail(*_pacs_failure(exc))


app = typer.Typer(
    name="simcase",
    cls=_Commands,
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


def main() -> None:
    """Console-script entry point."""
    sys.exit(app())
