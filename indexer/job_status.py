"""Jobs as the admin API shows them: state, progress, errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg.rows import class_row

__all__ = ["JobState", "JobStatus", "get_job", "list_jobs", "record_error", "set_progress"]

JobState = Literal["queued", "running", "succeeded", "failed"]

_STATES: dict[str, JobState] = {
    "todo": "queued",
    "doing": "running",
    "succeeded": "succeeded",
    "failed": "failed",
    "cancelled": "failed",
    "aborting": "running",
    "aborted": "failed",
}


@dataclass
class JobStatus:
    """One job's state, progress (done/total) and the errors of its attempts."""

    job_id: int
    task: str
    state: JobState
    attempts: int
    done: int
    total: int
    queued_at: datetime | None
    errors: list[str] = field(default_factory=list)
    args: dict[str, Any] = field(default_factory=dict)


_QUERY = """
SELECT j.id, j.task_name, j.status::text AS status, j.attempts, coalesce(p.done, 0) AS done,
       coalesce(p.total, 0) AS total,
       (SELECT min(e.at) FROM procrastinate_events e WHERE e.job_id = j.id) AS queued_at,
       coalesce((SELECT array_agg(x.error ORDER BY x.id) FROM job_errors x WHERE x.job_id = j.id),
                '{}') AS errors,
       j.args
FROM procrastinate_jobs j LEFT JOIN job_progress p ON p.job_id = j.id
"""


@dataclass(frozen=True)
class _JobRow:
    id: int
    task_name: str
    status: str
    attempts: int
    done: int
    total: int
    queued_at: datetime | None
    errors: list[str]
    args: dict[str, Any] | None


def _status(row: _JobRow) -> JobStatus:
    return JobStatus(
        job_id=row.id,
        task=str(row.task_name).removeprefix("simcase:"),
        state=_STATES.get(row.status, "failed"),
        attempts=row.attempts,
        done=row.done,
        total=row.total,
        queued_at=row.queued_at,
        errors=list(row.errors),
        args=_public_args(row.args or {}),
    )


def _public_args(args: dict[str, Any]) -> dict[str, Any]:
    # Job arguments may hold paths and ids; never a patient identifier by construction.
    return {k: v for k, v in args.items() if "patient" not in k.lower()}


def get_job(conn: psycopg.Connection[Any], job_id: int) -> JobStatus | None:
    """One job, or None."""
    with conn.cursor(row_factory=class_row(_JobRow)) as cur:
        row = cur.execute(_QUERY + " WHERE j.id = %s", (job_id,)).fetchone()
    return _status(row) if row else None


def list_jobs(conn: psycopg.Connection[Any], *, limit: int = 50) -> list[JobStatus]:
    """The newest jobs first."""
    with conn.cursor(row_factory=class_row(_JobRow)) as cur:
        rows = cur.execute(_QUERY + " ORDER BY j.id DESC LIMIT %s", (limit,)).fetchall()
    return [_status(r) for r in rows]


def set_progress(conn: psycopg.Connection[Any], job_id: int, done: int, total: int) -> None:
    """Record a job's progress."""
    conn.execute(
        "INSERT INTO job_progress (job_id, done, total) VALUES (%s, %s, %s)"
        " ON CONFLICT (job_id) DO UPDATE SET done = excluded.done, total = excluded.total,"
        " updated_at = now()",
        (job_id, done, total),
    )


def record_error(conn: psycopg.Connection[Any], job_id: int, attempt: int, error: str) -> None:
    """Keep the text of a failed attempt."""
    conn.execute(
        "INSERT INTO job_errors (job_id, attempt, error) VALUES (%s, %s, %s)",
        (job_id, attempt, error[:4000]),
    )
