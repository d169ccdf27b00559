"""Running a worker: heartbeats, stalled-job recovery, and a drain of the queue."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import procrastinate

from indexer.jobs import (
    DEFAULT_RETRY,
    JOB_QUEUE,
    JobResources,
    JobTask,
    create_job_app,
    readable_error,
)

__all__ = [
    "WorkerTiming",
    "retry_stalled_jobs",
    "run_queued_jobs",
    "run_worker_async",
]

log = logging.getLogger(__name__)

#: Workers write a heartbeat this often (seconds).
HEARTBEAT_SECONDS = 5.0
#: A worker without a heartbeat for this long is dead: its "doing" jobs are retried.
STALLED_AFTER_SECONDS = 20.0
#: How often each worker looks for jobs of dead workers.
RECOVERY_INTERVAL_SECONDS = 10.0
#: Longest pause before a worker that lost the database starts again.
RESTART_MAX_SECONDS = 30.0


@dataclass(frozen=True)
class WorkerTiming:
    """Heartbeat and stalled-job recovery of a worker (the defaults retry the job of a
    worker killed with SIGKILL within 20-35 s)."""

    heartbeat_seconds: float = HEARTBEAT_SECONDS
    stalled_after_seconds: float = STALLED_AFTER_SECONDS
    recovery_interval_seconds: float = RECOVERY_INTERVAL_SECONDS

    def worker_options(self) -> dict[str, float]:
        """Keyword arguments of procrastinate's ``run_worker(_async)``."""
        return {
            "update_heartbeat_interval": self.heartbeat_seconds,
            "stalled_worker_timeout": self.stalled_after_seconds,
        }


async def retry_stalled_jobs(
    app: procrastinate.App, stalled_after_seconds: float = STALLED_AFTER_SECONDS
) -> list[int]:
    """Put the "doing" jobs of dead workers (no heartbeat for ``stalled_after_seconds``)
    back to "todo", so that a live worker runs them; a job that has used up its task's
    attempts (``max_attempts`` of its retry strategy, else ``DEFAULT_RETRY``'s) is marked
    failed instead. Returns the ids retried.

    Several workers may run this at once: a job another worker already moved on is
    skipped.
    """
    stalled = await app.job_manager.get_stalled_jobs(
        queue=JOB_QUEUE, seconds_since_heartbeat=stalled_after_seconds
    )
    retried: list[int] = []
    for stalled_job in stalled:
        assert stalled_job.id is not None
        try:
            if stalled_job.attempts + 1 >= _max_attempts(app, stalled_job.task_name):
                await app.job_manager.finish_job_by_id_async(
                    stalled_job.id, procrastinate.jobs.Status.FAILED, delete_job=False
                )
                log.error(
                    "job %s failed: its worker died %s times",
                    stalled_job.id,
                    stalled_job.attempts + 1,
                )
                continue
            await app.job_manager.retry_job(stalled_job)
        except Exception as exc:  # moved on meanwhile (finished, or retried by another)
            log.debug("stalled job %s not retried: %s", stalled_job.id, exc)
            continue
        log.warning(
            "job %s (%s) was left running by a dead worker: retried",
            stalled_job.id,
            stalled_job.task_name,
        )
        retried.append(stalled_job.id)
    return retried


def _max_attempts(app: procrastinate.App, task_name: str) -> int:
    """The task's own retry budget (``process_study`` has its own), else the default."""
    task = app.tasks.get(task_name)
    strategy = getattr(task, "retry_strategy", None)
    own = getattr(strategy, "max_attempts", None)
    return int(own or DEFAULT_RETRY.max_attempts or 1)


async def _recover_forever(app: procrastinate.App, timing: WorkerTiming) -> None:
    while True:
        try:
            await retry_stalled_jobs(app, timing.stalled_after_seconds)
        except Exception as exc:  # the database may be away for a while: try again later
            log.warning("stalled-job recovery failed: %s", exc)
        await asyncio.sleep(timing.recovery_interval_seconds)


def _worker_arguments(resources: JobResources, timing: WorkerTiming, wait: bool) -> Any:
    """procrastinate's ``run_worker(_async)`` arguments of every simcase worker."""
    return {
        "queues": [JOB_QUEUE],
        "wait": wait,
        "install_signal_handlers": False,
        "additional_context": {"resources": resources},
        **timing.worker_options(),
    }


async def run_worker_async(
    app: procrastinate.App,
    resources: JobResources,
    *,
    timing: WorkerTiming | None = None,
    wait: bool = True,
    **options: Any,
) -> None:
    """Run a worker on :data:`JOB_QUEUE` (heartbeats on) beside the stalled-job recovery
    loop, until the worker stops or is cancelled.

    A waiting worker (``wait``) outlives the database: when procrastinate's worker ends
    because the database cannot be reached (a PostgreSQL restart), it is started again
    after a pause (1 s, doubling up to :data:`RESTART_MAX_SECONDS`); the job it was
    running, if any, is retried by the stalled-job recovery."""
    timing = timing or WorkerTiming()
    recovery = asyncio.create_task(_recover_forever(app, timing), name="stalled-job-recovery")
    pause = 1.0
    try:
        while True:
            try:
                await app.run_worker_async(**_worker_arguments(resources, timing, wait), **options)
                return
            except procrastinate.exceptions.ConnectorException as exc:
                if not wait:
                    raise
                log.error(
                    "worker stopped: the database cannot be reached (%s); starting again in %.0f s",
                    readable_error(exc.__cause__ or exc, 200),
                    pause,
                )
            await asyncio.sleep(pause)
            pause = min(pause * 2, RESTART_MAX_SECONDS)
    finally:
        recovery.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await recovery


def run_queued_jobs(resources: JobResources, tasks: Iterable[JobTask]) -> None:
    """Run a worker carrying ``tasks`` in this process until the queue is empty (CLI and
    tests); the resources are closed afterwards."""
    app = create_job_app(resources.conninfo, tasks=tasks)
    try:
        with app.open():
            app.run_worker(**_worker_arguments(resources, WorkerTiming(), wait=False))
    finally:
        resources.close()
