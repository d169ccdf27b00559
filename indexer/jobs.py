"""The job queue: procrastinate on simcase's own database.

Tasks are declared with :func:`job`, which makes a :class:`JobTask`; whoever builds an
app names the tasks it carries, ``create_job_app(conninfo, tasks=...)``, and they are
registered there, named ``simcase:<name>`` (a procrastinate Blueprint cannot be added
to two apps, and tests build many). An app that only defers jobs carries them too:
a task's queue and lock are set when a job is deferred. Resources a task needs reach
it through the worker's ``additional_context`` as a :class:`JobResources`.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import procrastinate
import psycopg
from procrastinate import JobContext, RetryStrategy
from psycopg.rows import scalar_row

from dicom_conversion.log_refs import scrub_names
from indexer.database import connect
from indexer.errors import DatabaseUnavailableError
from indexer.job_status import record_error
from indexer.pipeline import ModelSet, load_models
from indexer.store import IndexOptions, PgVectorStore, open_store

__all__ = [
    "DEFAULT_RETRY",
    "JOB_QUEUE",
    "JobResources",
    "JobTask",
    "create_job_app",
    "defer_once",
    "enqueue_reindex",
    "job",
    "job_resources",
    "readable_error",
    "seconds_since_deferred",
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


def job_resources(context: JobContext) -> JobResources:
    """The worker's :class:`JobResources` (a task's first line)."""
    resources = context.additional_context.get("resources")
    if not isinstance(resources, JobResources):
        raise RuntimeError("worker started without JobResources in additional_context")
    return resources


def readable_error(exc: BaseException, limit: int = 300) -> str:
    """A job error a person can read, one line, shortened, never a traceback: simcase's
    own errors as ``TypeName: message``, others as ``internal error (TypeName): message``.

    The message is scrubbed (:func:`~dicom_conversion.log_refs.scrub_names`): a path, a
    file name or a DICOM person name in it becomes its ``ref:`` hash, whatever code
    raised it, so the text may be logged and kept for the admin API."""
    own = type(exc).__module__.split(".")[0] in _OWN_PACKAGES
    name = type(exc).__name__
    message = scrub_names(str(exc))
    text = f"{name}: {message}" if own else f"internal error ({name}): {message}"
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
            text = readable_error(exc)  # scrubbed: no path or name the message quoted
            log.warning("job %s attempt %s failed: %s", job.id, job.attempts + 1, text)
            if job.id is not None:
                with connect(job_resources(context).conninfo, autocommit=True) as conn:
                    record_error(conn, job.id, job.attempts + 1, text)
            raise

    return wrapper  # type: ignore[return-value]


@dataclass(frozen=True)
class JobTask:
    """A declared task: its simcase name, its function (errors tracked) and procrastinate
    options; :func:`create_job_app` registers it."""

    name: str
    func: Callable[..., Any]
    options: Mapping[str, Any]


def job(name: str, **options: Any) -> Callable[[Callable[..., Any]], JobTask]:
    """Declare a task (context first, errors tracked); nothing is registered until an
    app is built with it (:func:`create_job_app`)."""

    def declare(func: Callable[..., Any]) -> JobTask:
        settings = {"queue": JOB_QUEUE, "pass_context": True, "retry": DEFAULT_RETRY, **options}
        return JobTask(name, tracked(func), settings)

    return declare


def task_name(name: str) -> str:
    """The procrastinate name of a simcase task (``simcase:<name>``)."""
    return f"simcase:{name}"


def create_job_app(
    conninfo: str, *, tasks: Iterable[JobTask], **pool_kwargs: Any
) -> procrastinate.App:
    """A procrastinate app on ``conninfo`` carrying ``tasks``."""
    connector = procrastinate.PsycopgConnector(conninfo=conninfo, **pool_kwargs)  # type: ignore[no-untyped-call]
    app = procrastinate.App(connector=connector)
    for task in tasks:
        app.task(name=task_name(task.name), **task.options)(task.func)  # type: ignore[no-untyped-call]
    return app


def defer_once(
    app: procrastinate.App,
    conninfo: str,
    name: str,
    lock: str,
    *,
    run_alone: bool = False,
    **kwargs: Any,
) -> int:
    """Queue task ``name`` unless a job with the same queueing lock is waiting; return
    the id of the job that will do the work.

    With ``run_alone``, ``lock`` is also the job's procrastinate lock: jobs that share it
    run one after the other, in the order they were queued, whatever the number of
    workers (a job queued while another is running waits for it)."""
    try:
        task = app.configure_task(
            task_name(name), queueing_lock=lock, lock=lock if run_alone else None
        )
        job_id: int = task.defer(**kwargs)
        return job_id
    except procrastinate.exceptions.AlreadyEnqueued:
        with connect(conninfo) as conn, conn.cursor(row_factory=scalar_row) as cur:
            existing: int | None = cur.execute(
                "SELECT id FROM procrastinate_jobs WHERE queueing_lock = %s AND status = 'todo'"
                " ORDER BY id DESC LIMIT 1",
                (lock,),
            ).fetchone()
        if existing is None:  # it started in between: queue again
            return defer_once(app, conninfo, name, lock, run_alone=run_alone, **kwargs)
        return existing


def seconds_since_deferred(conn: psycopg.Connection[Any], job_id: int) -> float | None:
    """Seconds from the job's queueing to now, on the database's clock (None: no such
    job, or its events were pruned)."""
    with conn.cursor(row_factory=scalar_row) as cur:
        seconds = cur.execute(
            "SELECT extract(epoch FROM clock_timestamp() - min(at))::float8"
            " FROM procrastinate_events WHERE job_id = %s AND type = 'deferred'",
            (job_id,),
        ).fetchone()
    return None if seconds is None else float(seconds)


def enqueue_reindex(app: procrastinate.App, conninfo: str, case_id: str | None = None) -> int:
    """Queue a reindex (all cases, or one); a reindex already queued is reused."""
    lock = "reindex" if case_id is None else f"reindex:{case_id}"
    return defer_once(app, conninfo, "reindex", lock, case_id=case_id)
