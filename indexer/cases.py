"""Archive cases: list, show and erase (with an audit trail)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from psycopg.rows import class_row, scalar_row
from psycopg.types.json import Jsonb

from dicom_conversion.log_refs import name_ref

__all__ = ["StoredCase", "audit", "delete_case", "get_case", "list_cases"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredCase:
    """An archive case as stored (the patient id stays in the database)."""

    case_id: str
    source: str
    study_instance_uid: str | None
    diagnosis: str
    age: int | None
    sex: str | None
    metadata: dict[str, Any]
    tumour: dict[str, Any]
    indexed_at: datetime


_COLUMNS = "case_id, source, study_instance_uid, diagnosis, age, sex, metadata, tumour, indexed_at"


def audit(
    conn: psycopg.Connection[Any],
    actor: str,
    action: str,
    subject: str | None,
    details: dict[str, Any] | None = None,
) -> None:
    """Append one row to the audit log (inside the caller's transaction)."""
    conn.execute(
        "INSERT INTO audit_log (actor, action, subject, details) VALUES (%s, %s, %s, %s)",
        (actor, action, subject, Jsonb(details or {})),
    )


def get_case(conn: psycopg.Connection[Any], case_id: str) -> StoredCase | None:
    """One case, or None."""
    with conn.cursor(row_factory=class_row(StoredCase)) as cur:
        return cur.execute(
            f"SELECT {_COLUMNS} FROM cases WHERE case_id = %s", (case_id,)
        ).fetchone()


def list_cases(
    conn: psycopg.Connection[Any],
    *,
    limit: int = 100,
    offset: int = 0,
    diagnosis: str | None = None,
) -> list[StoredCase]:
    """Cases ordered by id, optionally of one diagnosis."""
    with conn.cursor(row_factory=class_row(StoredCase)) as cur:
        return cur.execute(
            f"SELECT {_COLUMNS} FROM cases WHERE (%(d)s::text IS NULL OR diagnosis = %(d)s)"
            " ORDER BY case_id LIMIT %(l)s OFFSET %(o)s",
            {"d": diagnosis, "l": limit, "o": offset},
        ).fetchall()


def delete_case(conn: psycopg.Connection[Any], case_id: str, actor: str) -> int:
    """Erase a case and every vector of it; record who did it. Returns vectors removed."""
    with conn.transaction():
        with conn.cursor(row_factory=scalar_row) as cur:
            count = cur.execute(
                "WITH v AS (DELETE FROM embeddings WHERE case_id = %s RETURNING 1)"
                " SELECT count(*) FROM v",
                (case_id,),
            ).fetchone()
        vectors = int(count) if count is not None else 0
        gone = conn.execute("DELETE FROM cases WHERE case_id = %s", (case_id,)).rowcount
        if gone:
            audit(conn, actor, "delete_case", case_id, {"vectors_removed": vectors})
    log.info(
        "case erased", extra={"case": name_ref(case_id), "vectors": vectors, "found": bool(gone)}
    )
    return vectors if gone else -1
