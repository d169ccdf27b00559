"""``simcase run | api | worker | listen | migrate``: the long-running services."""

import asyncio

import typer

from plugin.cli._app import app, fail
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
    """Run the DICOM listener only (C-ECHO, C-STORE into the spool) until Ctrl-C."""
    import logging
    import signal
    import threading

    from plugin.dicom import DicomListener, ListenerError, PostgresJournal

    settings = get_settings()
    log = logging.getLogger("plugin.cli.listen")

    def study_complete(study_uid: str) -> None:
        # The journal has recorded the completion; processing is wired by the worker.
        log.info("study complete", extra={"study_uid": study_uid})

    stop = threading.Event()
    try:
        with database(settings) as conninfo:
            journal = PostgresJournal(conninfo)
            journal.open()
            try:
                listener = DicomListener(
                    settings.dicom, settings.spool_dir, journal, study_complete
                )
                with listener:
                    for sig in (signal.SIGINT, signal.SIGTERM):
                        signal.signal(sig, lambda *_: stop.set())
                    typer.echo(
                        f"simcase: DICOM listener {settings.dicom.ae_title} on port "
                        f"{listener.port}, spool {settings.spool_dir}; Ctrl-C stops it."
                    )
                    stop.wait()
            finally:
                journal.close()
    except (ConfigurationError, ListenerError) as exc:
        fail(str(exc))


@app.command()
def migrate() -> None:
    """Create or update the database schema, then exit."""
    settings = get_settings()
    with database(settings):
        typer.echo("simcase: database schema is up to date")
