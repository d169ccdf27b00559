"""What the admin view shows: model versions with their case counts, the studies simcase
received or was asked about with their result state, and the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import psycopg
from psycopg.rows import class_row

__all__ = [
    "AuditEntry",
    "ModelVersionCount",
    "RecentStudy",
    "StudyState",
    "audit_entries",
    "model_version_counts",
    "recent_studies",
]

StudyState = Literal["received", "processing", "answered", "failed", "no result"]


@dataclass(frozen=True)
class ModelVersionCount:
    """A model version, its state and how many archive cases it has vectors for."""

    model_version: str
    state: str
    dim: int
    cases: int
    created_at: datetime
    activated_at: datetime | None


@dataclass(frozen=True)
class RecentStudy:
    """A query study: where it is, its latest job, and the results written for it.

    ``superseded``: earlier results replaced by newer ones (a late series, a new model).
    """

    study_instance_uid: str
    state: StudyState
    last_seen: datetime | None
    job_id: int | None
    source: str | None
    results: int
    superseded: int
    error: str | None


@dataclass(frozen=True)
class AuditEntry:
    """One audit log row (erasures, model activations, cases shown for a study)."""

    at: datetime
    actor: str
    action: str
    subject: str | None
    details: dict[str, Any]


def model_version_counts(conn: psycopg.Connection[Any]) -> list[ModelVersionCount]:
    """Every model version, newest first, with its number of case vectors."""
    with conn.cursor(row_factory=class_row(ModelVersionCount)) as cur:
        return cur.execute(
            "SELECT m.model_version, m.state, m.dim,"
            " (SELECT count(*) FROM embeddings e WHERE e.model_version = m.model_version"
            "  AND e.slice_index = -1)::int AS cases, m.created_at, m.activated_at"
            " FROM model_versions m ORDER BY m.created_at DESC"
        ).fetchall()


_STUDIES = """
WITH jobs AS (
    SELECT DISTINCT ON (j.args->>'study_instance_uid')
           j.args->>'study_instance_uid' AS uid, j.id, j.status::text AS status,
           j.args->>'source' AS source,
           (SELECT x.error FROM job_errors x WHERE x.job_id = j.id ORDER BY x.id DESC LIMIT 1)
               AS error,
           (SELECT max(e.at) FROM procrastinate_events e WHERE e.job_id = j.id) AS at
    FROM procrastinate_jobs j
    WHERE j.task_name LIKE '%%process_study' AND j.args ? 'study_instance_uid'
    ORDER BY j.args->>'study_instance_uid', j.id DESC
), answers AS (
    SELECT study_instance_uid AS uid, count(*) FILTER (WHERE state = 'sent') AS sent,
           count(*) FILTER (WHERE state = 'failed') AS failed,
           max(coalesce(sent_at, created_at)) AS at
    FROM results GROUP BY study_instance_uid
), intake AS (
    SELECT study_instance_uid AS uid, last_received_at AS at FROM intake_studies
), uids AS (
    SELECT uid FROM jobs UNION SELECT uid FROM answers UNION SELECT uid FROM intake
)
SELECT u.uid, j.id AS job_id, j.status, j.source, j.error, coalesce(a.sent, 0) AS sent,
       coalesce(a.failed, 0) AS failed, greatest(j.at, a.at, i.at) AS last_seen,
       i.uid IS NOT NULL AS received
FROM uids u
LEFT JOIN jobs j ON j.uid = u.uid
LEFT JOIN answers a ON a.uid = u.uid
LEFT JOIN intake i ON i.uid = u.uid
ORDER BY last_seen DESC NULLS LAST, u.uid
LIMIT %(limit)s
"""


@dataclass(frozen=True)
class _StudyRow:
    uid: str
    job_id: int | None
    status: str | None
    source: str | None
    error: str | None
    sent: int
    failed: int
    last_seen: datetime | None
    received: bool


def _state(status: str | None, sent: int, failed: int, received: bool) -> StudyState:
    if status in ("todo", "doing", "aborting"):
        return "processing"
    if status in ("failed", "cancelled", "aborted") or (failed and not sent):
        return "failed"
    if sent:
        return "answered"
    if status is None and received:
        return "received"
    return "no result"


def recent_studies(conn: psycopg.Connection[Any], *, limit: int = 50) -> list[RecentStudy]:
    """The studies last heard of (received, queued, processed), newest first."""
    with conn.cursor(row_factory=class_row(_StudyRow)) as cur:
        rows = cur.execute(_STUDIES, {"limit": limit}).fetchall()
    return [
        RecentStudy(
            study_instance_uid=r.uid,
            state=_state(r.status, int(r.sent), int(r.failed), bool(r.received)),
            last_seen=r.last_seen,
            job_id=r.job_id,
            source=r.source,
            results=int(r.sent),
            superseded=max(0, int(r.sent) - 1),
            error=r.error,
        )
        for r in rows
    ]


def audit_entries(conn: psycopg.Connection[Any], *, limit: int = 100) -> list[AuditEntry]:
    """The newest audit log rows."""
    with conn.cursor(row_factory=class_row(AuditEntry)) as cur:
        return cur.execute(
            "SELECT at, actor, action, subject, details FROM audit_log ORDER BY id DESC LIMIT %s",
            (limit,),
        ).fetchall()
