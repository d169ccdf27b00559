"""Nearest archive cases by cosine distance, and the plan of that search (EXPLAIN).

The k nearest rows come from the version's partial HNSW index (ordered by the indexed
expression); the join with ``cases`` fetches only those rows' columns by primary key.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import psycopg
from pgvector import HalfVector
from psycopg import sql
from psycopg.rows import class_row, scalar_row
from psycopg.types.json import Jsonb

from indexer.store import _versions
from indexer.store._cases import as_halfvec
from indexer.store._records import HitRow, SearchFilters, SearchHit, SearchResult

__all__ = ["explain", "search"]

Conn = psycopg.Connection[Any]

_HIT_COLUMNS = sql.SQL(
    "c.case_id, c.diagnosis, c.source, c.study_instance_uid, c.age, c.sex, c.tumour, c.metadata"
)


def search(
    conn: Conn,
    vector: np.ndarray,
    k: int,
    model_version: str | None,
    *,
    ef_search: int,
    per_diagnosis: int = 0,
    filters: SearchFilters | None = None,
    exclude_patient: str | None = None,
    exact: bool = False,
) -> SearchResult:
    """The overall top ``k`` and the top ``per_diagnosis`` of every diagnosis (inside
    the caller's new transaction: the ``SET LOCAL`` settings end with it)."""
    if k < 1:
        raise ValueError("Argument 'k' must be at least 1.")
    filters = filters or SearchFilters()
    _one_snapshot(conn)
    version = model_version or _versions.require_active(conn)
    dim = _versions.dimension(conn, version)
    conn.execute(
        sql.SQL(
            "SET LOCAL hnsw.ef_search = {}; SET LOCAL hnsw.iterative_scan = relaxed_order;"
            " SET LOCAL enable_indexscan = {}"
        ).format(int(ef_search), sql.SQL("off" if exact else "on"))
    )
    top, base, params = _search_sql(
        version, dim, as_halfvec(vector, dim), k, filters, exclude_patient
    )
    with conn.cursor(row_factory=class_row(HitRow)) as cur:
        # An exact scan is never prepared: a plan cached by an earlier indexed search
        # would keep using the index whatever enable_indexscan says.
        rows = cur.execute(top, params, prepare=False if exact else None).fetchall()
        hits = [row.hit(i + 1) for i, row in enumerate(rows)]
        grouped: dict[str, list[SearchHit]] = {}
        if per_diagnosis > 0:
            lateral = sql.SQL(
                "SELECT n.* FROM (SELECT DISTINCT diagnosis FROM cases) d"
                " CROSS JOIN LATERAL ({base} AND c.diagnosis = d.diagnosis"
                " ORDER BY distance LIMIT {n}) n ORDER BY n.diagnosis, n.distance"
            ).format(base=base, n=int(per_diagnosis))
            for row in cur.execute(lateral, params).fetchall():
                group = grouped.setdefault(row.diagnosis, [])
                group.append(row.hit(len(group) + 1))
    return SearchResult(model_version=version, hits=hits, per_diagnosis=grouped)


def explain(
    conn: Conn, vector: np.ndarray, k: int, model_version: str | None, *, ef_search: int
) -> str:
    """``EXPLAIN ANALYZE`` of the top-k statement that :func:`search` runs (diagnostics)."""
    _one_snapshot(conn)
    version = model_version or _versions.require_active(conn)
    dim = _versions.dimension(conn, version)
    conn.execute(
        sql.SQL(
            "SET LOCAL hnsw.ef_search = {}; SET LOCAL hnsw.iterative_scan = relaxed_order"
        ).format(int(ef_search))
    )
    top, _, params = _search_sql(version, dim, as_halfvec(vector, dim), k, SearchFilters(), None)
    with conn.cursor(row_factory=scalar_row) as cur:
        lines = cur.execute(sql.SQL("EXPLAIN (ANALYZE, BUFFERS) {}").format(top), params)
        return "\n".join(str(line) for line in lines.fetchall())


def _one_snapshot(conn: Conn) -> None:
    """Let every statement of the search see one snapshot (the first statement of the
    transaction). Under READ COMMITTED a model switch committing between the read of the
    active version and the read of its vectors left the search with none of them (its
    vectors are dropped right after the switch); a read-only REPEATABLE READ transaction
    never fails for it."""
    conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")


def _search_sql(
    version: str,
    dim: int,
    query: HalfVector,
    k: int,
    filters: SearchFilters,
    exclude_patient: str | None,
) -> tuple[sql.Composed, sql.Composed, dict[str, Any]]:
    """The top-k statement, its filtered base (for the per-diagnosis query), its parameters."""
    where, params = _where(filters, exclude_patient)
    params["q"] = query
    distance = sql.SQL("e.embedding::halfvec({}) <=> %(q)s").format(dim)
    base = sql.SQL(
        "SELECT {cols}, {dist} AS distance FROM embeddings e"
        " JOIN cases c ON c.case_id = e.case_id"
        " WHERE e.model_version = {mv} AND e.slice_index = -1 AND {where}"
    ).format(cols=_HIT_COLUMNS, dist=distance, mv=sql.Literal(version), where=where)
    top = sql.SQL(
        "WITH nearest AS MATERIALIZED ({base} ORDER BY distance LIMIT {k})"
        " SELECT * FROM nearest ORDER BY distance"
    ).format(base=base, k=int(k))
    return top, base, params


def _where(
    filters: SearchFilters, exclude_patient: str | None
) -> tuple[sql.Composable, dict[str, Any]]:
    clauses: list[sql.Composable] = [sql.SQL("true")]
    params: dict[str, Any] = {}
    if exclude_patient is not None:
        clauses.append(sql.SQL("c.patient_id IS DISTINCT FROM %(patient)s"))
        params["patient"] = exclude_patient
    if filters.diagnoses:
        clauses.append(sql.SQL("c.diagnosis = ANY(%(diagnoses)s)"))
        params["diagnoses"] = list(filters.diagnoses)
    if filters.age_min is not None:
        clauses.append(sql.SQL("c.age >= %(age_min)s"))
        params["age_min"] = filters.age_min
    if filters.age_max is not None:
        clauses.append(sql.SQL("c.age <= %(age_max)s"))
        params["age_max"] = filters.age_max
    if filters.sex is not None:
        clauses.append(sql.SQL("c.sex = %(sex)s"))
        params["sex"] = filters.sex
    if filters.source is not None:
        clauses.append(sql.SQL("c.source = %(source)s"))
        params["source"] = filters.source
    if filters.metadata:
        clauses.append(sql.SQL("c.metadata @> %(metadata)s"))
        params["metadata"] = Jsonb(filters.metadata)
    return sql.SQL(" AND ").join(clauses), params
