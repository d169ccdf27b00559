"""The job queue: procrastinate on simcase's own database.

Tasks are declared with :func:`job`; :func:`create_job_app` registers them, named
``simcase:<name>``, on a fresh app bound to a connector (a procrastinate Blueprint
cannot be added to two apps, and tests build many). Resources a task needs reach it
through the worker's ``additional_context`` as a :class:`JobResources`.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import procrastinate
import psycopg
from procrastinate import JobContext, RetryStrategy

from indexer import cases
from indexer.bulk import CaseSource, embed_source, load_source
from indexer.database import connect
from indexer.errors import CaseNotFoundError, DatabaseUnavailableError, IndexerError
from indexer.job_status import record_error, set_progress
from indexer.pipeline import ModelSet, embed_study, load_models, register_models
from indexer.store import IndexOptions, PgVectorStore, open_store

__all__ = [
    "JOB_QUEUE",
    "JobResources",
    "WorkerTiming",
    "create_job_app",
    "defer_once",
    "enqueue_reindex",
    "job",
    "readable_error",
    "retry_stalled_jobs",
    "run_queued_jobs",
    "run_worker_async",
    "task_name",
]

log = logging.getLogger(__name__)

#: The queue every simcase task goes to.
JOB_QUEUE = "simcase"

#: Transient failures (the database went away) are retried with exponential backoff
#: (2, 4, 8, 16 s) before a job is marked failed; other errors fail the job at once.
DEFAULT_RETRY = RetryStrategy(
    max_attempts=5,
    exponential_wait=2,
    retry_exceptions={DatabaseUnavailableError, psycopg.OperationalError},
)

_TASKS: list[tuple[str, Callable[..., Any], dict[str, Any]]] = []


@dataclass
class JobResources:
    """What tasks need from the process that runs the worker (the store opens and the
    models load on first use)."""

    conninfo: str
    model_dir: Path | None = None
    options: IndexOptions = field(default_factory=IndexOptions)
    _store: PgVectorStore | None = field(default=None, repr=False)
    _models: ModelSet | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def store(self) -> PgVectorStore:
        with self._lock:
            if self._store is None:
                self._store = open_store(self.conninfo, self.options, max_size=4)
            return self._store

    @property
    def models(self) -> ModelSet:
        with self._lock:
            if self._models is None:
                self._models = load_models(self.model_dir)
            return self._models

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def _resources(context: JobContext) -> JobResources:
    resources = context.additional_context.get("resources")
    if not isinstance(resources, JobResources):
        raise RuntimeError("worker started without JobResources in additional_context")
    return resources


def readable_error(exc: BaseException, limit: int = 300) -> str:
    """A job error a person can read, one line, shortened, never a traceback: simcase's
    own errors as ``TypeName: message``, others as ``internal error (TypeName): message``."""
    own = type(exc).__module__.split(".")[0] in _OWN_PACKAGES
    name = type(exc).__name__
    text = f"{name}: {exc}" if own else f"internal error ({name}): {exc}"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


_OWN_PACKAGES = {"dicom_conversion", "models", "indexer", "plugin"}

P = ParamSpec("P")
R = TypeVar("R")


def tracked(
    func: Callable[Concatenate[JobContext, P], R],
) -> Callable[Concatenate[JobContext, P], R]:
    """Keep the error text of a failed attempt where the admin API can show it."""

    @functools.wraps(func)
    def wrapper(context: JobContext, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(context, *args, **kwargs)
        except Exception as exc:
            job = context.job
            log.warning("job %s attempt %s failed: %s", job.id, job.attempts + 1, exc)
            if job.id is not None:
                with connect(_resources(context).conninfo, autocommit=True) as conn:
                    record_error(conn, job.id, job.attempts + 1, readable_error(exc))
            raise

    return wrapper  # type: ignore[return-value]


F = TypeVar("F", bound=Callable[..., Any])


def job(name: str, **options: Any) -> Callable[[F], F]:
    """Declare a task (context first, errors tracked); registered by :func:`create_job_app`."""

    def declare(func: F) -> F:
        settings = {"queue": JOB_QUEUE, "pass_context": True, "retry": DEFAULT_RETRY, **options}
        _TASKS.append((name, tracked(func), settings))
        return func

    return declare


def task_name(name: str) -> str:
    """The procrastinate name of a simcase task (``simcase:<name>``)."""
    return f"simcase:{name}"


@job("delete_case")
def delete_case_task(context: JobContext, case_id: str, actor: str) -> int:
    """Erase an archive case and all its vectors (right to erasure), audited."""
    with connect(_resources(context).conninfo) as conn:
        removed = cases.delete_case(conn, case_id, actor)
    if removed < 0:
        raise CaseNotFoundError(f"no archive case {case_id!r}")
    return removed


@job("index_case")
def index_case_task(context: JobContext, source: dict[str, Any]) -> str:
    """Index one archive case (load, mask, embed, store) under the current model."""
    resources = _resources(context)
    case = CaseSource(**source)
    models = resources.models
    register_models(resources.store, models)
    entry, vector = embed_source(case, models)
    resources.store.upsert(entry, models.model_version, vector)
    return case.case_id


@job("reindex", lock="reindex")
def reindex_task(context: JobContext, case_id: str | None = None) -> dict[str, Any]:
    """Embed every case (or one) with the current model version, then switch to it.

    Searches keep using the previous complete version until the new one covers every
    case; the switch is atomic and the old vectors are dropped after it. A retried or
    re-run job resumes where it stopped (only cases without a vector are embedded).
    """
    resources = _resources(context)
    models, store = resources.models, resources.store
    version = models.model_version
    register_models(store, models)
    todo = [case_id] if case_id else store.missing_case_ids(version)
    job_id = context.job.id
    failures: list[str] = []
    with connect(resources.conninfo, autocommit=True) as conn:
        for done, cid in enumerate(todo, start=1):
            try:
                uri, given_mask = store.case_source(cid)
                if uri is None:
                    raise IndexerError(f"case {cid} has no recorded image source")
                embedded = embed_study(load_source(uri), models, use_given_mask=given_mask)
                store.add_vector(cid, version, embedded.vector)
            except Exception as exc:  # one broken case never stops the others
                failures.append(f"{cid}: {type(exc).__name__}: {exc}")
                if job_id is not None:
                    record_error(conn, job_id, context.job.attempts + 1, failures[-1])
            if job_id is not None:
                set_progress(conn, job_id, done, len(todo))
    have, total = store.coverage(version)
    if have == total:
        store.activate(version, actor="reindex")
    if failures:
        raise IndexerError(
            f"{len(failures)} of {len(todo)} case(s) could not be re-embedded; "
            f"searches stay on the previous model version ({have}/{total} covered)"
        )
    return {"model_version": version, "embedded": len(todo), "covered": have, "total": total}


#: Workers write a heartbeat this often (seconds).
HEARTBEAT_SECONDS = 5.0
#: A worker without a heartbeat for this long is dead: its "doing" jobs are retried.
STALLED_AFTER_SECONDS = 20.0
#: How often each worker looks for jobs of dead workers.
RECOVERY_INTERVAL_SECONDS = 10.0


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
    back to "todo", so that a live worker runs them; a job whose workers died
    ``DEFAULT_RETRY.max_attempts`` times is marked failed instead. Returns the ids retried.

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
            if stalled_job.attempts + 1 >= (DEFAULT_RETRY.max_attempts or 1):
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


async def _recover_forever(app: procrastinate.App, timing: WorkerTiming) -> None:
    while True:
        try:
            await retry_stalled_jobs(app, timing.stalled_after_seconds)
        except Exception as exc:  # the database may be away for a while: try again later
            log.warning("stalled-job recovery failed: %s", exc)
        await asyncio.sleep(timing.recovery_interval_seconds)


async def run_worker_async(
    app: procrastinate.App,
    resources: JobResources,
    *,
    timing: WorkerTiming | None = None,
    wait: bool = True,
    **options: Any,
) -> None:
    """Run a worker on :data:`JOB_QUEUE` (heartbeats on) beside the stalled-job recovery
    loop, until the worker stops or is cancelled."""
    timing = timing or WorkerTiming()
    recovery = asyncio.create_task(_recover_forever(app, timing), name="stalled-job-recovery")
    try:
        await app.run_worker_async(
            queues=[JOB_QUEUE],
            wait=wait,
            install_signal_handlers=False,
            additional_context={"resources": resources},
            **timing.worker_options(),  # type: ignore[arg-type]
            **options,
        )
    finally:
        recovery.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await recovery


def create_job_app(conninfo: str, **pool_kwargs: Any) -> procrastinate.App:
    """A procrastinate app on ``conninfo`` with simcase's tasks."""
    connector = procrastinate.PsycopgConnector(conninfo=conninfo, **pool_kwargs)  # type: ignore[no-untyped-call]
    app = procrastinate.App(connector=connector)
    for name, func, settings in _TASKS:
        app.task(name=task_name(name), **settings)(func)  # type: ignore[no-untyped-call]
    return app


def defer_once(app: procrastinate.App, conninfo: str, name: str, lock: str, **kwargs: Any) -> int:
    """Queue task ``name`` unless a job with the same queueing lock is waiting; return
    the id of the job that will do the work."""
    try:
        job_id: int = app.configure_task(task_name(name), queueing_lock=lock).defer(**kwargs)
        return job_id
    except procrastinate.exceptions.AlreadyEnqueued:
        with connect(conninfo) as conn:
            row = conn.execute(
                "SELECT id FROM procrastinate_jobs WHERE queueing_lock = %s AND status = 'todo'"
                " ORDER BY id DESC LIMIT 1",
                (lock,),
            ).fetchone()
        if row is None:  # it started in between: queue again
            return defer_once(app, conninfo, name, lock, **kwargs)
        existing: int = row[0]
        return existing


def enqueue_reindex(app: procrastinate.App, conninfo: str, case_id: str | None = None) -> int:
    """Queue a reindex (all cases, or one); a reindex already queued is reused."""
    lock = "reindex" if case_id is None else f"reindex:{case_id}"
    return defer_once(app, conninfo, "reindex", lock, case_id=case_id)


def run_queued_jobs(resources: JobResources) -> None:
    """Run a worker in this process until the queue is empty (CLI and tests); the
    resources are closed afterwards."""
    conninfo = resources.conninfo
    app = create_job_app(conninfo)
    try:
        with app.open():
            app.run_worker(
                queues=[JOB_QUEUE],
                wait=False,
                install_signal_handlers=False,
                additional_context={"resources": resources},
                **WorkerTiming().worker_options(),  # type: ignore[arg-type]
            )
    finally:
        resources.close()
