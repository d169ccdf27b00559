"""The case store over PostgreSQL + pgvector: :class:`PgVectorStore`.

Vectors are ``halfvec`` rows of the ``embeddings`` table, one model version beside the
other; each version has its own partial HNSW (cosine) index, so a search under one
version never scans another's vectors. The SQL lives by what it owns: model versions
(``_versions``), cases and vectors (``_cases``), search (``_search``); this class owns
the pool and the index options and gives each call one connection.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, TypedDict

import numpy as np
from psycopg_pool import ConnectionPool

from indexer import cases as case_records
from indexer.store import _cases, _search, _versions
from indexer.store._records import CaseEntry, SearchFilters, SearchResult

__all__ = [
    "DEFAULT_EF_SEARCH",
    "DEFAULT_HNSW_EF_CONSTRUCTION",
    "DEFAULT_HNSW_M",
    "HnswOptions",
    "PgVectorStore",
]

log = logging.getLogger(__name__)

#: ``hnsw.ef_search`` used by default; chosen from the recall curve in docs/benchmarks.md.
DEFAULT_EF_SEARCH = 100
#: HNSW build parameters (pgvector's ``m`` and ``ef_construction``) used by default. On
#: 1,000,000 clustered 128-d vectors (docs/benchmarks.md) m = 24 / ef_construction = 128
#: reach recall@10 0.997 at the default ef_search (m = 16 / 64: 0.873), for a build twice
#: as long and an index 20 % larger.
DEFAULT_HNSW_M = 24
DEFAULT_HNSW_EF_CONSTRUCTION = 128


class HnswOptions(TypedDict):
    """HNSW build parameters, as keyword arguments of :class:`PgVectorStore`."""

    hnsw_m: int
    hnsw_ef_construction: int


class PgVectorStore:
    """:class:`~indexer.store.VectorStore` over a psycopg 3 pool (connections with
    pgvector registered)."""

    def __init__(
        self,
        pool: ConnectionPool[Any],
        *,
        ef_search: int = DEFAULT_EF_SEARCH,
        hnsw_m: int = DEFAULT_HNSW_M,
        hnsw_ef_construction: int = DEFAULT_HNSW_EF_CONSTRUCTION,
    ) -> None:
        if not 2 <= hnsw_m <= 100:
            raise ValueError(f"hnsw_m must be between 2 and 100, not {hnsw_m}")
        if not 4 <= hnsw_ef_construction <= 1000 or hnsw_ef_construction < 2 * hnsw_m:
            raise ValueError(
                "hnsw_ef_construction must be between 4 and 1000 and at least twice hnsw_m,"
                f" not {hnsw_ef_construction} (hnsw_m {hnsw_m})"
            )
        self.pool = pool
        self.ef_search = ef_search
        self.hnsw_m = hnsw_m
        self.hnsw_ef_construction = hnsw_ef_construction

    # -- model versions (indexer.store._versions) --------------------------------------

    def register_model(self, model_version: str, dim: int) -> str:
        """Make sure a model version exists with its HNSW index; return its state.

        The first version ever registered becomes active at once (an empty archive is
        complete); later ones start as ``building``.
        """
        with self.pool.connection() as conn:
            return _versions.register(
                conn, model_version, dim, self.hnsw_m, self.hnsw_ef_construction
            )

    def save_weights(self, model_version: str, onnx: bytes) -> None:
        """Keep a version's embedder weights, so queries can be embedded with it later."""
        with self.pool.connection() as conn:
            _versions.save_weights(conn, model_version, onnx)

    def load_weights(self, model_version: str) -> bytes | None:
        """A version's embedder weights (ONNX), if they were kept."""
        with self.pool.connection() as conn:
            return _versions.load_weights(conn, model_version)

    def active_model_version(self) -> str | None:
        """The version searches use by default, or None when nothing is indexed yet."""
        with self.pool.connection() as conn:
            return _versions.active(conn)

    def coverage(self, model_version: str) -> tuple[int, int]:
        """(cases with a vector of this version, all cases)."""
        with self.pool.connection() as conn:
            return _versions.coverage(conn, model_version)

    def missing_case_ids(self, model_version: str) -> list[str]:
        """Cases without a vector of this version (what a reindex still has to do)."""
        with self.pool.connection() as conn:
            return _versions.missing_case_ids(conn, model_version)

    def activate(self, model_version: str, actor: str = "system") -> None:
        """Switch searches to ``model_version`` once it covers every case, atomically.

        The previous version is retired and its vectors and index are dropped after the
        switch has committed.
        """
        with self.pool.connection() as conn:
            retired = _versions.activate(conn, model_version, actor)
        for old in retired:
            self.drop_model(old)
        log.info("model version activated", extra={"model_version": model_version})

    def drop_model(self, model_version: str) -> None:
        """Remove a non-active version's vectors and index."""
        with self.pool.connection() as conn:
            _versions.drop(conn, model_version)

    # -- cases and vectors (indexer.store._cases) --------------------------------------

    def upsert(
        self,
        entry: CaseEntry,
        model_version: str,
        vector: np.ndarray,
        slice_vectors: Iterable[np.ndarray] = (),
    ) -> None:
        """Store (or replace) a case and its vectors under one model version."""
        with self.pool.connection() as conn, conn.transaction():
            dim = _versions.dimension(conn, model_version)
            _cases.upsert(conn, entry, model_version, dim, vector, slice_vectors)

    def add_vector(self, case_id: str, model_version: str, vector: np.ndarray) -> None:
        """Add (or replace) the case vector of an existing case under another version."""
        with self.pool.connection() as conn, conn.transaction():
            dim = _versions.dimension(conn, model_version)
            _cases.add_vector(conn, case_id, model_version, dim, vector)

    def indexed_case_ids(self, model_version: str) -> set[str]:
        """Cases that already have a vector of this version (for resumable imports)."""
        with self.pool.connection() as conn:
            return _cases.indexed_case_ids(conn, model_version)

    def case_source(self, case_id: str) -> tuple[str | None, bool]:
        """(source_uri, given_mask) of a case."""
        with self.pool.connection() as conn:
            return _cases.case_source(conn, case_id)

    def thumbnails(self, case_ids: list[str]) -> dict[str, bytes]:
        """PNG thumbnails of these cases (those that have one)."""
        with self.pool.connection() as conn:
            return _cases.thumbnails(conn, case_ids)

    def delete_case(self, case_id: str, actor: str) -> bool:
        """Erase a case and all its vectors; audited. False when there was no such case."""
        with self.pool.connection() as conn:
            return case_records.delete_case(conn, case_id, actor) >= 0

    # -- search (indexer.store._search) ------------------------------------------------

    def search(
        self,
        vector: np.ndarray,
        k: int = 10,
        model_version: str | None = None,
        *,
        per_diagnosis: int = 0,
        filters: SearchFilters | None = None,
        exclude_patient: str | None = None,
        exact: bool = False,
    ) -> SearchResult:
        """Nearest archive cases by cosine similarity, never the query's own patient.

        Returns the overall top ``k`` and, when ``per_diagnosis`` > 0, the top
        ``per_diagnosis`` of every diagnosis in the archive. Filtered queries use
        pgvector's iterative index scans so that they still return ``k`` rows when
        ``k`` matching cases exist. ``exact=True`` bypasses the index (a full scan: the
        reference for recall measurements).
        """
        with self.pool.connection() as conn, conn.transaction():
            return _search.search(
                conn,
                vector,
                k,
                model_version,
                ef_search=self.ef_search,
                per_diagnosis=per_diagnosis,
                filters=filters,
                exclude_patient=exclude_patient,
                exact=exact,
            )

    def explain_search(
        self, vector: np.ndarray, k: int = 10, model_version: str | None = None
    ) -> str:
        """``EXPLAIN ANALYZE`` of the top-k statement that :meth:`search` runs (diagnostics)."""
        with self.pool.connection() as conn, conn.transaction():
            return _search.explain(conn, vector, k, model_version, ef_search=self.ef_search)
