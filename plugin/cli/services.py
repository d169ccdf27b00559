"""``simcase run | api | worker | listen | migrate``: the long-running services."""

import asyncio

import typer

from plugin.cli._app import app, fail
from plugin.demo import ensure_demo_archive
from plugin.errors import ConfigurationError
from plugin.runtime import database, serve
from plugin.settings import Settings, get_settings


def _serve(*, api: bool, worker: bool, listener: bool = False) -> None:
    settings = get_settings()
    try:
        if api:
            settings.api.check_safe()
        with database(settings) as conninfo:
            asyncio.run(serve(settings, conninfo, api=api, worker=worker, listener=listener))
    except ConfigurationError as exc:
        fail(str(exc))


@app.command()
def run() -> None:
    """Run simcase: embedded PostgreSQL (unless configured), API and worker."""
    settings = get_settings()
    try:
        settings.api.check_safe()
        with database(settings) as conninfo:
            demo = ensure_demo_archive(settings, conninfo)
            typer.echo(
                f"simcase: data in {settings.data_dir}\n"
                f"  DICOM listener: AE {settings.dicom.ae_title} on port {settings.dicom.port}\n"
                f"  API and upload page: http://{settings.api.host}:{settings.api.port}/"
                " (OpenAPI at /docs)"
            )
            if demo and demo.query_dicom:
                typer.echo(
                    f"  demo archive: {demo.cases_indexed} synthetic cases; try it:\n"
                    f"    TCP_NODELAY=1 storescu -R -aec {settings.dicom.ae_title} +sd +r "
                    f"127.0.0.1 {settings.dicom.port} {demo.query_dicom}\n"
                    f"  results go to {_destination(settings)}"
                )
            typer.echo("Ctrl-C stops everything. Not for diagnostic use.")
            asyncio.run(serve(settings, conninfo, api=True, worker=True, listener=True))
    except ConfigurationError as exc:
        fail(str(exc))


def _destination(settings: Settings) -> str:
    results = settings.results
    if results.stow_url:
        return results.stow_url
    if results.host:
        return f"{results.ae_title}@{results.host}:{results.port}"
    return f"{settings.data_dir / 'results'} (set SIMCASE_RESULTS__* to send them to a PACS)"


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
    """Run the intake: the DICOM listener (C-ECHO, C-STORE into the spool) and, with
    SIMCASE_PACS__ORTHANC_URL set, the Orthanc /changes follower, until Ctrl-C.

    Every complete study is queued for ``process_study``; run workers beside it.
    """
    import signal
    import threading

    from plugin.dicom import ListenerError
    from plugin.metrics import serve_process_metrics
    from plugin.runtime import following_orthanc, running_listener

    settings = get_settings()
    stop = threading.Event()
    try:
        with (
            database(settings) as conninfo,
            following_orthanc(settings, conninfo),
            running_listener(settings, conninfo) as listener,
        ):
            serve_process_metrics(settings.metrics_port, settings.api.host)
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
            typer.echo(
                f"simcase: DICOM listener {settings.dicom.ae_title} on port "
                f"{listener.port}, spool {settings.spool_dir}; Ctrl-C stops it."
            )
            stop.wait()
    except (ConfigurationError, ListenerError) as exc:
        fail(str(exc))


@app.command()
def migrate() -> None:
    """Create or update the database schema, then exit."""
    settings = get_settings()
    with database(settings):
        typer.echo("simcase: database schema is up to date")
