"""A map of the archive: the active model's case vectors projected onto two dimensions.

The projection is the first two principal components of the case vectors (linear, so
a query's vector lands on the same map: ``(v - mean) @ components.T``). It is computed
when first asked for and kept until the archive or the active model version changes
(the cache key is the version, its number of vectors and the latest indexing time), so
a re-index refreshes it. Archives larger than ``max_cases`` are mapped from an even
sample (by case id hash, the same cases every time).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
import psycopg

from indexer.errors import IndexerError

__all__ = ["ArchiveMap", "MapCache", "Projection", "fit_projection", "load_archive_map"]

#: Cases mapped at most (an even sample of larger archives).
MAX_CASES = 20_000


@dataclass(frozen=True)
class Projection:
    """A linear map from embedding space to the plane."""

    mean: np.ndarray
    components: np.ndarray

    def apply(self, vectors: np.ndarray) -> np.ndarray:
        """(n, 2) coordinates of (n, dim) vectors."""
        centred = np.asarray(vectors, dtype=np.float64) - self.mean
        return np.asarray(centred @ self.components.T)


def fit_projection(vectors: np.ndarray) -> Projection:
    """Principal components 1 and 2 of ``vectors`` (n, dim), signs fixed so that the
    largest loading of each component is positive (the same map for the same data).

    Raises
    ------
    ValueError
        With fewer than two vectors.
    """
    data = np.asarray(vectors, dtype=np.float64)
    if data.ndim != 2 or data.shape[0] < 2:
        raise ValueError("Argument 'vectors' must hold at least two vectors (n, dim).")
    mean = data.mean(axis=0)
    _, _, vt = np.linalg.svd(data - mean, full_matrices=False)
    components = vt[:2]
    if components.shape[0] < 2:  # dim 1: a flat second axis
        components = np.vstack([components, np.zeros_like(components)])
    for row in components:
        if row[np.argmax(np.abs(row))] < 0:
            row *= -1
    return Projection(mean=mean, components=components)


@dataclass(frozen=True)
class ArchiveMap:
    """The mapped cases of one model version and the projection that placed them."""

    model_version: str
    case_ids: list[str]
    diagnoses: list[str]
    xy: np.ndarray
    projection: Projection
    total_cases: int

    def to_json(self) -> dict[str, Any]:
        return {
            "model_version": self.model_version,
            "total_cases": self.total_cases,
            "points": [
                {"case_id": c, "diagnosis": d, "x": round(float(x), 5), "y": round(float(y), 5)}
                for c, d, (x, y) in zip(self.case_ids, self.diagnoses, self.xy, strict=True)
            ],
            "projection": {
                "mean": [round(float(v), 6) for v in self.projection.mean],
                "components": [
                    [round(float(v), 6) for v in row] for row in self.projection.components
                ],
            },
        }


def _fingerprint(conn: psycopg.Connection[Any]) -> tuple[Any, ...]:
    row = conn.execute(
        "SELECT m.model_version, count(e.case_id), max(c.indexed_at)"
        " FROM model_versions m"
        " LEFT JOIN embeddings e ON e.model_version = m.model_version AND e.slice_index = -1"
        " LEFT JOIN cases c ON c.case_id = e.case_id"
        " WHERE m.state = 'active' GROUP BY m.model_version"
    ).fetchone()
    if row is None:
        raise IndexerError("the archive is empty: no model version is active yet")
    return tuple(row)


def load_archive_map(
    conn: psycopg.Connection[Any], model_version: str, max_cases: int = MAX_CASES
) -> ArchiveMap:
    """Read the version's case vectors (pgvector registered on ``conn``) and map them."""
    rows = conn.execute(
        "SELECT e.case_id, c.diagnosis, e.embedding FROM embeddings e"
        " JOIN cases c ON c.case_id = e.case_id"
        " WHERE e.model_version = %s AND e.slice_index = -1"
        " ORDER BY md5(e.case_id) LIMIT %s",
        (model_version, max_cases),
    ).fetchall()
    total_row = conn.execute(
        "SELECT count(*) FROM embeddings WHERE model_version = %s AND slice_index = -1",
        (model_version,),
    ).fetchone()
    if len(rows) < 2:
        raise IndexerError("the archive holds fewer than two cases: nothing to map")
    vectors = np.stack([np.asarray(r[2].to_numpy(), dtype=np.float32) for r in rows])
    projection = fit_projection(vectors)
    return ArchiveMap(
        model_version=model_version,
        case_ids=[r[0] for r in rows],
        diagnoses=[r[1] for r in rows],
        xy=projection.apply(vectors),
        projection=projection,
        total_cases=int(total_row[0]) if total_row else len(rows),
    )


class MapCache:
    """The active version's map, recomputed only when the archive has changed."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple[Any, ...] | None = None
        self._map: ArchiveMap | None = None

    def get(self, conn: psycopg.Connection[Any]) -> ArchiveMap:
        key = _fingerprint(conn)
        with self._lock:
            if self._map is None or key != self._key:
                self._map = load_archive_map(conn, str(key[0]))
                self._key = key
            return self._map
