"""Start-up shared by the services: database, migrations, worker and API in one loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Callable, Iterator

import procrastinate
import uvicorn

from indexer.database import create_pool, open_database
from indexer.jobs import JOB_QUEUE, create_job_app
from indexer.migrate import migrate
from indexer.worker import run_worker_async
from plugin.api import create_app
from plugin.dicom import DicomListener, PostgresJournal
from plugin.dicom.uids import is_dicom_uid
from plugin.errors import ConfigurationError
from plugin.jobs import TASKS, enqueue_process_study, worker_resources
from plugin.metrics import CountingJournal, serve_process_metrics
from plugin.orthanc.changes import ChangesFollower, PostgresPosition, StableStudy
from plugin.settings import Settings

__all__ = ["database", "run_worker", "running_listener", "serve", "study_complete_handler"]

log = logging.getLogger(__name__)


@contextlib.contextmanager
def database(settings: Settings) -> Iterator[str]:
    """The database URI (embedded server when none is configured), migrated."""
    with open_database(settings.database_url, settings.data_dir) as conninfo:
        applied = migrate(conninfo)
        if applied:
            log.info("database schema migrated: %s", ", ".join(applied))
        yield conninfo


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: :func:`serve` owns the signals."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def study_complete_handler(conninfo: str) -> tuple[Callable[[str], None], Callable[[], None]]:
    """A listener callback that queues ``process_study`` for a complete study, and a
    function that releases its resources."""
    jobs = create_job_app(conninfo, tasks=TASKS, min_size=1, max_size=2)
    jobs.open()

    def on_complete(study_instance_uid: str) -> None:
        job_id = enqueue_process_study(jobs, conninfo, study_instance_uid, "spool")
        log.info(
            "study complete; processing queued",
            extra={"study_uid": study_instance_uid, "job": job_id},
        )

    return on_complete, jobs.close


@contextlib.contextmanager
def running_listener(settings: Settings, conninfo: str) -> Iterator[DicomListener]:
    """The DICOM listener, queueing ``process_study`` for every complete study."""
    on_complete, release = study_complete_handler(conninfo)
    journal = PostgresJournal(conninfo)
    journal.open()
    try:
        counted = CountingJournal(journal)
        with DicomListener(settings.dicom, settings.spool_dir, counted, on_complete) as listener:
            yield listener
    finally:
        journal.close()
        release()


async def run_worker(job_app: procrastinate.App, settings: Settings, conninfo: str) -> None:
    """A worker on ``job_app`` (open) running ``settings.worker.concurrency`` jobs at
    once, until it is cancelled."""
    resources = worker_resources(settings, conninfo)
    await run_worker_async(job_app, resources, concurrency=settings.worker.concurrency)


@contextlib.contextmanager
def following_orthanc(settings: Settings, conninfo: str) -> Iterator[ChangesFollower | None]:
    """Follow Orthanc's ``/changes`` feed when ``SIMCASE_PACS__ORTHANC_URL`` is set: every
    new stable MR study is queued for ``process_study`` (pulled by DICOMweb)."""
    if not settings.pacs.orthanc_url:
        yield None
        return
    if not settings.pacs.dicomweb_url:
        raise ConfigurationError(
            "SIMCASE_PACS__ORTHANC_URL needs SIMCASE_PACS__DICOMWEB_URL to pull studies"
        )
    jobs = create_job_app(conninfo, tasks=TASKS, min_size=1, max_size=2)
    jobs.open()
    pool = create_pool(conninfo, max_size=1)

    def on_study(study: StableStudy) -> None:
        if not is_dicom_uid(study.study_instance_uid):
            log.warning("stable study in Orthanc ignored: its StudyInstanceUID is not a UID")
            return
        job_id = enqueue_process_study(jobs, conninfo, study.study_instance_uid, "dicomweb")
        log.info(
            "stable study in Orthanc; processing queued",
            extra={"study_uid": study.study_instance_uid, "job": job_id},
        )

    follower = ChangesFollower(
        settings.pacs.orthanc_url, PostgresPosition(pool, "orthanc"), on_study
    )
    stop = threading.Event()
    thread = threading.Thread(target=follower.run, args=(stop,), name="orthanc-changes")
    thread.start()
    log.info("following %s/changes", settings.pacs.orthanc_url)
    try:
        yield follower
    finally:
        stop.set()
        thread.join(timeout=30)
        follower.close()
        pool.close()
        jobs.close()


async def serve(
    settings: Settings, conninfo: str, *, api: bool, worker: bool, listener: bool = False
) -> None:
    """Run the API, a worker and/or the listener until SIGINT or SIGTERM, then stop."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    running: list[asyncio.Task[None]] = []
    server: _Server | None = None
    if not api:
        serve_process_metrics(settings.metrics_port, settings.api.host)
    async with contextlib.AsyncExitStack() as stack:
        if listener:
            stack.enter_context(following_orthanc(settings, conninfo))
            dicom = stack.enter_context(running_listener(settings, conninfo))
            log.info(
                "DICOM listener %s on %s:%s",
                settings.dicom.ae_title,
                settings.dicom.host,
                dicom.port,
            )
        if worker:
            job_app = create_job_app(conninfo, tasks=TASKS)
            await stack.enter_async_context(job_app.open_async())
            running.append(
                asyncio.create_task(run_worker(job_app, settings, conninfo), name="worker")
            )
            log.info(
                "worker started on queue %s, %d job(s) at once",
                JOB_QUEUE,
                settings.worker.concurrency,
            )
        if api:
            settings.api.check_safe()
            config = uvicorn.Config(
                create_app(settings, conninfo),
                host=settings.api.host,
                port=settings.api.port,
                log_level="warning",
                access_log=False,  # it logs whole query strings; plugin.api.access_log does not
            )
            server = _Server(config)
            running.append(asyncio.create_task(server.serve(), name="api"))
            log.info("API on http://%s:%s (OpenAPI at /docs)", settings.api.host, settings.api.port)
        stopper = asyncio.create_task(stop.wait(), name="stop")
        await asyncio.wait([stopper, *running], return_when=asyncio.FIRST_COMPLETED)
        log.info("stopping")
        if server is not None:
            server.should_exit = True
        for task in running:
            if task.get_name() == "worker":
                task.cancel()
        results = await asyncio.gather(*running, return_exceptions=True)
        stopper.cancel()
        for task, result in zip(running, results, strict=True):
            if isinstance(result, BaseException) and not isinstance(result, asyncio.CancelledError):
                log.error("%s stopped with an error: %s", task.get_name(), result)
                raise result
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.remove_signal_handler(sig)
