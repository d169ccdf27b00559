"""``simcase run | api | worker | listen | migrate``: the long-running services."""

import asyncio
import shlex
import shutil
import sys
from pathlib import Path

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
                f"simcase: open http://{_browser_host(settings.api.host)}:{settings.api.port}/"
                " (search page; OpenAPI at /docs)\n"
                f"  DICOM listener: AE {settings.dicom.ae_title} on port {settings.dicom.port}\n"
                f"  data in {settings.data_dir}"
            )
            if demo and demo.query_dicom:
                typer.echo(
                    f"  demo archive: {demo.cases_indexed} synthetic cases; send the demo"
                    " query study from another terminal:\n"
                    f"    {send_command()} send {shlex.quote(str(demo.query_dicom))}"
                    f" --port {settings.dicom.port} --aec {settings.dicom.ae_title}\n"
                    f"  results go to {_destination(settings)}"
                )
            typer.echo("Ctrl-C stops everything. Not for diagnostic use.")
            asyncio.run(serve(settings, conninfo, api=True, worker=True, listener=True))
    except ConfigurationError as exc:
        fail(str(exc))


def _browser_host(host: str) -> str:
    """The host to type into a browser for a server bound to ``host``."""
    return "127.0.0.1" if host in ("0.0.0.0", "::", "") else host


def send_command() -> str:
    """How to call ``simcase`` from another terminal: the console script when it is on
    PATH and belongs to this interpreter, else this Python running the CLI module."""
    script = shutil.which("simcase")
    if script and Path(script).absolute().parent == Path(sys.executable).absolute().parent:
        return "simcase"
    here = Path(sys.executable).parent / "simcase"
    if here.is_file():
        return shlex.quote(str(here))
    return f"{shlex.quote(sys.executable)} -m plugin.cli"


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
