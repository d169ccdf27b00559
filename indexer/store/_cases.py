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
from indexer.store import _queries
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

_SQL = _queries.load("cases.sql")


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
        _SQL["upsert_case"],
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
        _SQL["delete_case_vectors"],
        (entry.case_id, model_version),
    )
    rows = [(entry.case_id, model_version, -1, case_vector)]
    rows += [
        (entry.case_id, model_version, i, as_halfvec(v, dim)) for i, v in enumerate(slice_vectors)
    ]
    with conn.cursor() as cur:
        cur.executemany(_SQL["insert_vector"], rows)


def add_vector(conn: Conn, case_id: str, model_version: str, dim: int, vector: np.ndarray) -> None:
    """Add (or replace) the case vector of an existing case under another version."""
    conn.execute(
        _SQL["put_case_vector"],
        (case_id, model_version, as_halfvec(vector, dim)),
    )


def indexed_case_ids(conn: Conn, model_version: str) -> set[str]:
    """Cases that already have a vector of this version (for resumable imports)."""
    with conn.cursor(row_factory=scalar_row) as cur:
        rows: list[str] = cur.execute(_SQL["indexed_case_ids"], (model_version,)).fetchall()
    return set(rows)


def case_source(conn: Conn, case_id: str) -> tuple[str | None, bool]:
    """(source_uri, given_mask) of a case."""
    with conn.cursor(row_factory=class_row(_Source)) as cur:
        row = cur.execute(_SQL["case_source"], (case_id,)).fetchone()
    if row is None:
        raise IndexerError(f"no archive case {case_id!r}")
    return row.source_uri, bool(row.given_mask)


def thumbnails(conn: Conn, case_ids: list[str]) -> dict[str, bytes]:
    """PNG thumbnails of these cases (those that have one)."""
    with conn.cursor(row_factory=class_row(_Thumbnail)) as cur:
        rows = cur.execute(_SQL["thumbnails"], (case_ids,)).fetchall()
    return {r.case_id: bytes(r.thumbnail) for r in rows}


def outlines(conn: Conn, case_ids: list[str]) -> dict[str, bytes]:
    """The tumour outlines over these cases' thumbnails (those that have one)."""
    with conn.cursor(row_factory=class_row(_Thumbnail)) as cur:
        rows = cur.execute(_SQL["outlines"], (case_ids,)).fetchall()
    return {r.case_id: bytes(r.thumbnail) for r in rows}


def cases_without_outline(conn: Conn) -> set[str]:
    """Cases indexed before outlines were kept (or whose outline could not be drawn)."""
    with conn.cursor(row_factory=scalar_row) as cur:
        rows = cur.execute(_SQL["cases_without_outline"])
        return set(rows.fetchall())


def save_outline(conn: Conn, case_id: str, outline: bytes) -> None:
    """Keep an outline drawn after the case was indexed (before outlines were kept)."""
    conn.execute(_SQL["save_outline"], (outline, case_id))
