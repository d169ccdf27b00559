"""``simcase run | api | worker | listen | migrate``: the long-running services."""

import asyncio

import typer

from plugin.cli._app import app, fail, not_yet
from plugin.errors import ConfigurationError
from plugin.runtime import database, serve
from plugin.settings import get_settings


def _serve(*, api: bool, worker: bool) -> None:
    settings = get_settings()
    try:
        if api:
            settings.api.check_safe()
        with database(settings) as conninfo:
            asyncio.run(serve(settings, conninfo, api=api, worker=worker))
    except ConfigurationError as exc:
        fail(str(exc))


@app.command()
def run() -> None:
    """Run simcase: embedded PostgreSQL (unless configured), API and worker."""
    settings = get_settings()
    typer.echo(
        f"simcase: data in {settings.data_dir}; API on "
        f"http://{settings.api.host}:{settings.api.port}; Ctrl-C stops everything. "
        "Not for diagnostic use."
    )
    _serve(api=True, worker=True)


@app.command()
def api() -> None:
    """Run the REST API only."""
    _serve(api=True, worker=False)


@app.command()
def worker() -> None:
    """Run a job worker only (start several for more throughput)."""
    _serve(api=False, worker=True)


@app.command()
def listen() -> None:
    """Run the DICOM listener only."""
    not_yet("listen", 7)


@app.command()
def migrate() -> None:
    """Create or update the database schema, then exit."""
    settings = get_settings()
    with database(settings):
        typer.echo("simcase: database schema is up to date")
