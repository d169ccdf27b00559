"""The job queue: procrastinate on simcase's own database.

Tasks are declared with :func:`job`; :func:`create_job_app` registers them, named
``simcase:<name>``, on a fresh app bound to a connector (a procrastinate Blueprint
cannot be added to two apps, and tests build many). Resources a task needs reach it
through the worker's ``additional_context`` as a :class:`JobResources`.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Concatenate, ParamSpec, TypeVar

import procrastinate
import psycopg
from procrastinate import JobContext, RetryStrategy

from indexer import cases
from indexer.database import connect
from indexer.errors import CaseNotFoundError, DatabaseUnavailableError
from indexer.job_status import record_error

__all__ = ["JOB_QUEUE", "JobResources", "create_job_app", "job", "task_name"]

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


@dataclass(frozen=True)
class JobResources:
    """What tasks need from the process that runs the worker."""

    conninfo: str


def _resources(context: JobContext) -> JobResources:
    resources = context.additional_context.get("resources")
    if not isinstance(resources, JobResources):
        raise RuntimeError("worker started without JobResources in additional_context")
    return resources


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
                    record_error(conn, job.id, job.attempts + 1, f"{type(exc).__name__}: {exc}")
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


def create_job_app(conninfo: str, **pool_kwargs: Any) -> procrastinate.App:
    """A procrastinate app on ``conninfo`` with simcase's tasks."""
    connector = procrastinate.PsycopgConnector(conninfo=conninfo, **pool_kwargs)  # type: ignore[no-untyped-call]
    app = procrastinate.App(connector=connector)
    for name, func, settings in _TASKS:
        app.task(name=task_name(name), **settings)(func)  # type: ignore[no-untyped-call]
    return app
