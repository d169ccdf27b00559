"""Start-up shared by the services: database, migrations, worker and API in one loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Iterator

import uvicorn

from indexer.database import open_database
from indexer.jobs import JOB_QUEUE, JobResources, create_job_app
from indexer.migrate import migrate
from plugin.api import create_app
from plugin.settings import Settings

__all__ = ["database", "serve"]

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


async def serve(settings: Settings, conninfo: str, *, api: bool, worker: bool) -> None:
    """Run the API and/or a worker until SIGINT or SIGTERM, then stop both cleanly."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    running: list[asyncio.Task[None]] = []
    server: _Server | None = None
    async with contextlib.AsyncExitStack() as stack:
        if worker:
            job_app = create_job_app(conninfo)
            await stack.enter_async_context(job_app.open_async())
            running.append(
                asyncio.create_task(
                    job_app.run_worker_async(
                        queues=[JOB_QUEUE],
                        concurrency=1,
                        install_signal_handlers=False,
                        additional_context={"resources": JobResources(conninfo=conninfo)},
                    ),
                    name="worker",
                )
            )
            log.info("worker started on queue %s", JOB_QUEUE)
        if api:
            settings.api.check_safe()
            config = uvicorn.Config(
                create_app(settings, conninfo),
                host=settings.api.host,
                port=settings.api.port,
                log_level="warning",
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
