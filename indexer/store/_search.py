"""Nearest archive cases by cosine distance, and the plan of that search (EXPLAIN).

The k nearest rows come from the version's partial HNSW index (ordered by the indexed
expression); the join with ``cases`` fetches only those rows' columns by primary key.
The statements are the named queries of ``search.sql``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import psycopg
from pgvector import HalfVector
from psycopg import sql
from psycopg.rows import class_row, scalar_row
from psycopg.types.json import Jsonb

from indexer.store import _queries, _versions
from indexer.store._cases import as_halfvec
from indexer.store._records import HitRow, SearchFilters, SearchHit, SearchResult

__all__ = ["explain", "search"]

Conn = psycopg.Connection[Any]

_SQL = _queries.load("search.sql")

#: The optional filters in the order their clauses join: each is a named clause of
#: ``search.sql`` and the name of its parameter.
_FILTER_CLAUSES = ("diagnoses", "age_min", "age_max", "sex", "source", "metadata")


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
        sql.SQL(_SQL["search_settings"]).format(
            ef_search=int(ef_search), indexscan=sql.SQL("off" if exact else "on")
        )
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
            lateral = sql.SQL(_SQL["top_per_diagnosis"]).format(base=base, n=int(per_diagnosis))
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
    conn.execute(sql.SQL(_SQL["explain_settings"]).format(ef_search=int(ef_search)))
    top, _, params = _search_sql(version, dim, as_halfvec(vector, dim), k, SearchFilters(), None)
    with conn.cursor(row_factory=scalar_row) as cur:
        lines = cur.execute(sql.SQL(_SQL["explain"]).format(statement=top), params)
        return "\n".join(str(line) for line in lines.fetchall())


def _one_snapshot(conn: Conn) -> None:
    """Let every statement of the search see one snapshot (the first statement of the
    transaction). Under READ COMMITTED a model switch committing between the read of the
    active version and the read of its vectors left the search with none of them (its
    vectors are dropped right after the switch); a read-only REPEATABLE READ transaction
    never fails for it."""
    conn.execute(_SQL["one_snapshot"])


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
    base = sql.SQL(_SQL["filtered_vectors"]).format(
        dim=dim, model_version=sql.Literal(version), where=where
    )
    top = sql.SQL(_SQL["top_k"]).format(base=base, k=int(k))
    return top, base, params


def _where(
    filters: SearchFilters, exclude_patient: str | None
) -> tuple[sql.Composable, dict[str, Any]]:
    values: dict[str, Any] = {
        "diagnoses": list(filters.diagnoses) if filters.diagnoses else None,
        "age_min": filters.age_min,
        "age_max": filters.age_max,
        "sex": filters.sex,
        "source": filters.source,
        "metadata": Jsonb(filters.metadata) if filters.metadata else None,
    }
    params: dict[str, Any] = {}
    clauses: list[sql.Composable] = [sql.SQL(_SQL["no_filter"])]
    if exclude_patient is not None:
        clauses.append(sql.SQL(_SQL["exclude_patient"]))
        params["patient"] = exclude_patient
    for name in _FILTER_CLAUSES:
        if values[name] is not None:
            clauses.append(sql.SQL(_SQL[name]))
            params[name] = values[name]
    return sql.SQL(" AND ").join(clauses), params
