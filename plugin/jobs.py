"""simcase's jobs on the plugin floor: ``process_study``, the task list, the resources.

:data:`TASKS` names every task, registered explicitly where an app is built
(``create_job_app(conninfo, tasks=TASKS)``). The worker's :class:`WorkerResources`
carry the settings, read once where the worker is built (:func:`worker_resources`);
tasks never read them again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

import procrastinate
import psycopg
from procrastinate import JobContext, RetryStrategy

from indexer.intake import seconds_since_received
from indexer.jobs import (
    DEFAULT_RETRY,
    JobResources,
    JobTask,
    defer_once,
    job,
    seconds_since_deferred,
)
from indexer.tasks import INDEXER_TASKS
from plugin import metrics
from plugin.dicom.uids import require_uid
from plugin.errors import SendError
from plugin.processing import process_study
from plugin.settings import Settings

log = logging.getLogger(__name__)

__all__ = [
    "PROCESS_STUDY_RETRY",
    "TASKS",
    "WorkerResources",
    "enqueue_process_study",
    "process_study_task",
    "worker_resources",
]


@dataclass
class WorkerResources(JobResources):
    """:class:`~indexer.jobs.JobResources` plus the settings the plugin's tasks need."""

    settings: Settings = field(kw_only=True, repr=False)


def worker_resources(settings: Settings, conninfo: str) -> WorkerResources:
    """The resources of a worker on ``conninfo``, from the process's settings."""
    return WorkerResources(
        conninfo=conninfo,
        model_dir=settings.model_dir,
        options=settings.index.options(),
        settings=settings,
    )


#: ``process_study`` is retried when the database went away (as every job) and when the
#: PACS could not take the results (:class:`~plugin.errors.SendError`, after the sender's
#: own few retries): after 2, 4, 8 ... 512 s, 10 attempts in about 17 minutes, each
#: failed attempt's error kept for the admin API. The result objects' UIDs are derived
#: from the study's content, the same at every attempt, so a set delivered in part is
#: completed, not duplicated, and one that was recorded is never sent again.
PROCESS_STUDY_RETRY = RetryStrategy(
    max_attempts=10,
    exponential_wait=2,
    retry_exceptions={*(DEFAULT_RETRY.retry_exceptions or ()), SendError},
)


@job("process_study", retry=PROCESS_STUDY_RETRY)
def process_study_task(
    context: JobContext, study_instance_uid: str, source: str = "spool"
) -> dict[str, Any]:
    """The PACS path's job: results for one study, back into the same study."""
    resources = context.additional_context.get("resources")
    if not isinstance(resources, WorkerResources):
        raise RuntimeError("worker started without WorkerResources in additional_context")
    try:
        outcome = process_study(study_instance_uid, source, resources, resources.settings)
    except Exception as exc:
        metrics.record_failure(exc)
        raise
    metrics.record_outcome(outcome.state, outcome.shown_case_ids, outcome.timings_s)
    if outcome.state not in metrics.SKIPPED_STATES:
        _record_latency(resources, study_instance_uid, source, context.job.id)
    return outcome.to_dict()


def _record_latency(
    resources: WorkerResources, study_instance_uid: str, source: str, job_id: int | None
) -> None:
    """Observe the study's arrival-to-delivery latency: from its last acknowledged
    instance (pushed studies), else from the job's queueing, on a connection of the
    worker's pool. A database hiccup here costs the observation, never the job (whose
    results are already delivered)."""
    try:
        with resources.store.pool.connection() as conn:
            seconds = (
                seconds_since_received(conn, study_instance_uid) if source == "spool" else None
            )
            if seconds is None and job_id is not None:
                seconds = seconds_since_deferred(conn, job_id)
    except psycopg.Error as exc:  # the pool's timeout is one too
        log.warning("study latency not recorded: %s", type(exc).__name__)
        return
    if seconds is not None:
        metrics.record_latency(source, seconds)


#: Every simcase task: what a worker runs and what an app that defers jobs carries
#: (``create_job_app(conninfo, tasks=TASKS)``).
TASKS: tuple[JobTask, ...] = (*INDEXER_TASKS, process_study_task)


def enqueue_process_study(
    app: procrastinate.App, conninfo: str, study_instance_uid: str, source: str
) -> int:
    """Queue ``process_study`` once per study (a study already waiting is not queued twice).

    The jobs of one study run one after the other (lock ``study:<uid>``): a job queued
    while another of the same study runs (more instances arrived, a resend after a
    crash) waits for it, then reads its result and supersedes it. Run side by side, both
    found no earlier result and both result sets went out as the study's answer.

    Raises :class:`~plugin.dicom.uids.InvalidUidError` for anything but a DICOM UID.
    """
    require_uid(study_instance_uid)
    metrics.record_study_queued(source)
    return defer_once(
        app,
        conninfo,
        "process_study",
        f"study:{study_instance_uid}",
        run_alone=True,
        study_instance_uid=study_instance_uid,
        source=source,
    )
