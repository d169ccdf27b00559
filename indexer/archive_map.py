"""A map of the archive: a model version's case vectors projected onto two dimensions.

The projection is the first two principal components of the case vectors (linear, so
a query's vector lands on the same map: ``(v - mean) @ components.T``). It is fitted at
index time, by :func:`refresh_archive_map` at the end of a bulk import and of a
reindex, and kept in the database per model version (``archive_maps``: the mean and
the components; ``archive_map_points``: every case's place). Archives larger than
``max_cases`` are fitted on an even sample (by case id hash, the same cases every
time) and every case is placed with that fit.

:func:`read_archive_map` gives the stored map. A case indexed after the fit (one study
added to the archive) is placed with the stored projection when the map is read, so the
map never moves under the user's eyes between two imports; a version without a stored
map (an archive indexed before maps were kept) is fitted and stored on first read.

:func:`place_on_map` puts a query's vector on the same map, on the server, with the
stored projection: every client of the search (the page, ``simcase search --json``,
integrations) gets the query's place, never the projection arithmetic.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import psycopg
from psycopg.rows import class_row, scalar_row

from indexer.errors import IndexerError
from indexer.map_projection import ArchiveMap, MapPoint, Projection, fit_projection

__all__ = [
    "MAX_CASES",
    "ArchiveMap",
    "MapPoint",
    "Projection",
    "fit_projection",
    "place_on_map",
    "read_archive_map",
    "refresh_archive_map",
]

log = logging.getLogger(__name__)

Conn = psycopg.Connection[Any]

#: Cases the projection is fitted on, and points a map shows, at most.
MAX_CASES = 20_000

#: Vectors read and placed per round trip.
_BATCH = 5_000

#: Namespace of the transaction-level advisory lock that serialises writers of one map.
_LOCK = "simcase:archive_map:"


@dataclass(frozen=True)
class _StoredFit:
    mean: list[float]
    components: list[list[float]]
    fitted_cases: int
    computed_at: datetime

    def projection(self) -> Projection:
        return Projection(np.asarray(self.mean), np.asarray(self.components))


@dataclass(frozen=True)
class _Point:
    case_id: str
    diagnosis: str
    x: float
    y: float


@dataclass(frozen=True)
class _CaseVector:
    case_id: str
    embedding: Any  # pgvector's HalfVector or Vector


def _case_vectors(
    conn: Conn, query: str, params: tuple[Any, ...]
) -> Iterator[tuple[list[str], np.ndarray]]:
    """(case ids, (n, dim) float64 vectors) in batches, from ``case_id, embedding`` rows
    (pgvector registered on ``conn``; inside a transaction: a server-side cursor)."""
    with conn.cursor(name="simcase_archive_map", row_factory=class_row(_CaseVector)) as cur:
        cur.itersize = _BATCH
        cur.execute(query, params)
        while rows := cur.fetchmany(_BATCH):
            ids = [r.case_id for r in rows]
            yield (
                ids,
                np.stack([np.asarray(r.embedding.to_numpy(), dtype=np.float64) for r in rows]),
            )


def _stored_fit(conn: Conn, model_version: str) -> _StoredFit | None:
    with conn.cursor(row_factory=class_row(_StoredFit)) as cur:
        return cur.execute(
            "SELECT mean, components, fitted_cases, computed_at FROM archive_maps"
            " WHERE model_version = %s",
            (model_version,),
        ).fetchone()


def _place(conn: Conn, model_version: str, projection: Projection, *, missing_only: bool) -> int:
    """Store the places of the version's cases (only those without one) under
    ``projection``; return how many were placed."""
    missing = (
        " AND NOT EXISTS (SELECT 1 FROM archive_map_points p"
        " WHERE p.model_version = e.model_version AND p.case_id = e.case_id)"
        if missing_only
        else ""
    )
    placed = 0
    batches = _case_vectors(
        conn,
        "SELECT e.case_id, e.embedding FROM embeddings e"
        f" WHERE e.model_version = %s AND e.slice_index = -1{missing}",
        (model_version,),
    )
    for ids, vectors in batches:
        rows = [
            (model_version, c, float(x), float(y))
            for c, (x, y) in zip(ids, projection.apply(vectors), strict=True)
        ]
        with conn.cursor() as cur:
            if missing_only:  # a few cases, maybe placed by another reader meanwhile
                cur.executemany(
                    "INSERT INTO archive_map_points (model_version, case_id, x, y)"
                    " VALUES (%s, %s, %s, %s) ON CONFLICT DO NOTHING",
                    rows,
                )
            else:  # the version's points were deleted under the lock: COPY is safe
                with cur.copy(
                    "COPY archive_map_points (model_version, case_id, x, y) FROM STDIN"
                ) as copy:
                    for row in rows:
                        copy.write_row(row)
        placed += len(ids)
    return placed


def refresh_archive_map(conn: Conn, model_version: str, max_cases: int = MAX_CASES) -> bool:
    """Fit the version's map on its case vectors (an even sample of ``max_cases``) and
    store it with every case's place, replacing the previous one. Returns False (and
    keeps no map) when the version has fewer than two case vectors.

    ``conn`` has pgvector registered; the work is one transaction.
    """
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (_LOCK + model_version,))
        conn.execute("DELETE FROM archive_maps WHERE model_version = %s", (model_version,))
        sample = [
            vectors
            for _, vectors in _case_vectors(
                conn,
                "SELECT case_id, embedding FROM embeddings"
                " WHERE model_version = %s AND slice_index = -1 ORDER BY md5(case_id) LIMIT %s",
                (model_version, max_cases),
            )
        ]
        fitted = sum(len(v) for v in sample)
        if fitted < 2:
            return False
        projection = fit_projection(np.concatenate(sample))
        conn.execute(
            "INSERT INTO archive_maps (model_version, mean, components, fitted_cases)"
            " VALUES (%s, %s, %s, %s)",
            (
                model_version,
                projection.mean.tolist(),
                projection.components.tolist(),
                fitted,
            ),
        )
        placed = _place(conn, model_version, projection, missing_only=False)
    log.info(
        "archive map stored",
        extra={"model_version": model_version, "fitted_cases": fitted, "placed": placed},
    )
    return True


def _place_new_cases(conn: Conn, model_version: str) -> None:
    """Place cases indexed since the fit with the stored projection (skipped while
    another process is writing this map: they are placed by the next read)."""
    with conn.transaction():
        got = conn.execute(
            "SELECT pg_try_advisory_xact_lock(hashtext(%s))", (_LOCK + model_version,)
        ).fetchone()
        fit = _stored_fit(conn, model_version) if got and got[0] else None
        if fit is not None:
            _place(conn, model_version, fit.projection(), missing_only=True)


def _fit(conn: Conn, model_version: str, max_cases: int) -> _StoredFit | None:
    """The version's stored fit; fitted and stored now for a version without one (an
    archive indexed before maps were kept). None with fewer than two case vectors."""
    fit = _stored_fit(conn, model_version)
    if fit is None and refresh_archive_map(conn, model_version, max_cases):
        fit = _stored_fit(conn, model_version)
    return fit


def place_on_map(
    conn: Conn, model_version: str, vector: np.ndarray, max_cases: int = MAX_CASES
) -> MapPoint | None:
    """Where ``vector`` (a query's embedding under ``model_version``) lands on that
    version's stored map: the projection its cases were placed with. None when the
    version holds fewer than two case vectors (no map)."""
    fit = _fit(conn, model_version, max_cases)
    if fit is None:
        return None
    x, y = fit.projection().apply(np.asarray(vector, dtype=np.float64).reshape(1, -1))[0]
    return MapPoint(float(x), float(y))


def read_archive_map(
    conn: Conn, model_version: str | None = None, max_cases: int = MAX_CASES
) -> ArchiveMap:
    """The stored map of ``model_version`` (default: the active one), with up to
    ``max_cases`` points (an even sample of larger archives).

    Raises
    ------
    IndexerError
        When no version is active, or the version holds fewer than two cases.
    """
    if model_version is None:
        with conn.cursor(row_factory=scalar_row) as cur:
            active = cur.execute(
                "SELECT model_version FROM model_versions WHERE state = 'active'"
            ).fetchone()
        if active is None:
            raise IndexerError("the archive is empty: no model version is active yet")
        model_version = str(active)
    if _fit(conn, model_version, max_cases) is None:
        raise IndexerError("the archive holds fewer than two cases: nothing to map")
    _place_new_cases(conn, model_version)
    fit = _stored_fit(conn, model_version)
    if fit is None:  # erased by a concurrent refresh of a shrinking archive
        raise IndexerError("the archive holds fewer than two cases: nothing to map")
    with conn.cursor(row_factory=class_row(_Point)) as cur:
        points = cur.execute(
            "SELECT p.case_id, c.diagnosis, p.x, p.y FROM archive_map_points p"
            " JOIN cases c ON c.case_id = p.case_id"
            " WHERE p.model_version = %s ORDER BY md5(p.case_id) LIMIT %s",
            (model_version, max_cases),
        ).fetchall()
    total = conn.execute(
        "SELECT count(*) FROM embeddings WHERE model_version = %s AND slice_index = -1",
        (model_version,),
    ).fetchone()
    return ArchiveMap(
        model_version=model_version,
        case_ids=[p.case_id for p in points],
        diagnoses=[p.diagnosis for p in points],
        xy=np.asarray([[p.x, p.y] for p in points], dtype=np.float64).reshape(-1, 2),
        projection=fit.projection(),
        total_cases=int(total[0]) if total else len(points),
        fitted_cases=fit.fitted_cases,
        computed_at=fit.computed_at,
    )
