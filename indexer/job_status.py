"""Jobs as the admin API shows them: state, progress, errors."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

import psycopg

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
SELECT j.id, j.task_name, j.status::text, j.attempts, coalesce(p.done, 0), coalesce(p.total, 0),
       (SELECT min(e.at) FROM procrastinate_events e WHERE e.job_id = j.id),
       coalesce((SELECT array_agg(x.error ORDER BY x.id) FROM job_errors x WHERE x.job_id = j.id),
                '{}'),
       j.args
FROM procrastinate_jobs j LEFT JOIN job_progress p ON p.job_id = j.id
"""


def _row(row: tuple[Any, ...]) -> JobStatus:
    task = str(row[1]).removeprefix("simcase:")
    return JobStatus(
        job_id=row[0],
        task=task,
        state=_STATES.get(row[2], "failed"),
        attempts=row[3],
        done=row[4],
        total=row[5],
        queued_at=row[6],
        errors=list(row[7]),
        args=_public_args(row[8] or {}),
    )


def _public_args(args: dict[str, Any]) -> dict[str, Any]:
    # Job arguments may hold paths and ids; never a patient identifier by construction.
    return {k: v for k, v in args.items() if "patient" not in k.lower()}


def get_job(conn: psycopg.Connection[Any], job_id: int) -> JobStatus | None:
    """One job, or None."""
    row = conn.execute(_QUERY + " WHERE j.id = %s", (job_id,)).fetchone()
    return _row(row) if row else None


def list_jobs(conn: psycopg.Connection[Any], *, limit: int = 50) -> list[JobStatus]:
    """The newest jobs first."""
    return [_row(r) for r in conn.execute(_QUERY + " ORDER BY j.id DESC LIMIT %s", (limit,))]


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
