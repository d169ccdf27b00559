"""Archive cases, their vectors and thumbnails: functions over one connection."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg
from pgvector import HalfVector
from psycopg.rows import class_row, scalar_row
from psycopg.types.json import Jsonb

from indexer.errors import IndexerError, ModelVersionError
from indexer.store._records import CaseEntry

__all__ = [
    "add_vector",
    "as_halfvec",
    "case_source",
    "cases_without_outline",
    "indexed_case_ids",
    "outlines",
    "save_outline",
    "thumbnails",
    "upsert",
]

Conn = psycopg.Connection[Any]


@dataclass(frozen=True)
class _Source:
    source_uri: str | None
    given_mask: bool


@dataclass(frozen=True)
class _Thumbnail:
    case_id: str
    thumbnail: bytes


def as_halfvec(vector: np.ndarray, dim: int) -> HalfVector:
    """``vector`` as pgvector's half-precision vector, checked against ``dim``."""
    array = np.asarray(vector, dtype=np.float32).reshape(-1)
    if array.shape[0] != dim:
        raise ModelVersionError(f"vector has {array.shape[0]} dimensions, the model has {dim}")
    if not np.all(np.isfinite(array)):
        raise IndexerError("vector holds NaN or infinite values")
    return HalfVector(array)


_UPSERT = (
    "INSERT INTO cases (case_id, source, source_uri, patient_id, study_instance_uid,"
    " diagnosis, age, sex, given_mask, metadata, tumour, thumbnail, thumbnail_outline)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (case_id) DO UPDATE SET source = excluded.source,"
    " source_uri = excluded.source_uri, patient_id = excluded.patient_id,"
    " study_instance_uid = excluded.study_instance_uid,"
    " diagnosis = excluded.diagnosis, age = excluded.age, sex = excluded.sex,"
    " given_mask = excluded.given_mask, metadata = excluded.metadata,"
    " tumour = excluded.tumour,"
    " thumbnail = coalesce(excluded.thumbnail, cases.thumbnail),"
    " thumbnail_outline = coalesce(excluded.thumbnail_outline, cases.thumbnail_outline),"
    " indexed_at = now()"
)


def upsert(
    conn: Conn,
    entry: CaseEntry,
    model_version: str,
    dim: int,
    vector: np.ndarray,
    slice_vectors: Iterable[np.ndarray] = (),
) -> None:
    """Store (or replace) a case and its vectors under one model version (inside the
    caller's transaction)."""
    case_vector = as_halfvec(vector, dim)
    conn.execute(
        _UPSERT,
        (
            entry.case_id,
            entry.source,
            entry.source_uri,
            entry.patient_id,
            entry.study_instance_uid,
            entry.diagnosis,
            entry.age,
            entry.sex,
            entry.given_mask,
            Jsonb(entry.metadata),
            Jsonb(entry.tumour),
            entry.thumbnail,
            entry.outline,
        ),
    )
    conn.execute(
        "DELETE FROM embeddings WHERE case_id = %s AND model_version = %s",
        (entry.case_id, model_version),
    )
    rows = [(entry.case_id, model_version, -1, case_vector)]
    rows += [
        (entry.case_id, model_version, i, as_halfvec(v, dim)) for i, v in enumerate(slice_vectors)
    ]
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO embeddings (case_id, model_version, slice_index, embedding)"
            " VALUES (%s, %s, %s, %s)",
            rows,
        )


def add_vector(conn: Conn, case_id: str, model_version: str, dim: int, vector: np.ndarray) -> None:
    """Add (or replace) the case vector of an existing case under another version."""
    conn.execute(
        "INSERT INTO embeddings (case_id, model_version, slice_index, embedding)"
        " VALUES (%s, %s, -1, %s) ON CONFLICT (model_version, case_id, slice_index)"
        " DO UPDATE SET embedding = excluded.embedding",
        (case_id, model_version, as_halfvec(vector, dim)),
    )


def indexed_case_ids(conn: Conn, model_version: str) -> set[str]:
    """Cases that already have a vector of this version (for resumable imports)."""
    with conn.cursor(row_factory=scalar_row) as cur:
        rows: list[str] = cur.execute(
            "SELECT case_id FROM embeddings WHERE model_version = %s AND slice_index = -1",
            (model_version,),
        ).fetchall()
    return set(rows)


def case_source(conn: Conn, case_id: str) -> tuple[str | None, bool]:
    """(source_uri, given_mask) of a case."""
    with conn.cursor(row_factory=class_row(_Source)) as cur:
        row = cur.execute(
            "SELECT source_uri, given_mask FROM cases WHERE case_id = %s", (case_id,)
        ).fetchone()
    if row is None:
        raise IndexerError(f"no archive case {case_id!r}")
    return row.source_uri, bool(row.given_mask)


def thumbnails(conn: Conn, case_ids: list[str]) -> dict[str, bytes]:
    """PNG thumbnails of these cases (those that have one)."""
    with conn.cursor(row_factory=class_row(_Thumbnail)) as cur:
        rows = cur.execute(
            "SELECT case_id, thumbnail FROM cases WHERE case_id = ANY(%s)"
            " AND thumbnail IS NOT NULL",
            (case_ids,),
        ).fetchall()
    return {r.case_id: bytes(r.thumbnail) for r in rows}


def outlines(conn: Conn, case_ids: list[str]) -> dict[str, bytes]:
    """The tumour outlines over these cases' thumbnails (those that have one)."""
    with conn.cursor(row_factory=class_row(_Thumbnail)) as cur:
        rows = cur.execute(
            "SELECT case_id, thumbnail_outline AS thumbnail FROM cases"
            " WHERE case_id = ANY(%s) AND thumbnail_outline IS NOT NULL",
            (case_ids,),
        ).fetchall()
    return {r.case_id: bytes(r.thumbnail) for r in rows}


def cases_without_outline(conn: Conn) -> set[str]:
    """Cases indexed before outlines were kept (or whose outline could not be drawn)."""
    with conn.cursor(row_factory=scalar_row) as cur:
        rows = cur.execute("SELECT case_id FROM cases WHERE thumbnail_outline IS NULL")
        return set(rows.fetchall())


def save_outline(conn: Conn, case_id: str, outline: bytes) -> None:
    """Keep an outline drawn after the case was indexed (before outlines were kept)."""
    conn.execute("UPDATE cases SET thumbnail_outline = %s WHERE case_id = %s", (outline, case_id))
