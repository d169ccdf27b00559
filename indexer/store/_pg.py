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
from typing import Any

import numpy as np
from psycopg_pool import ConnectionPool

from indexer import archive_map
from indexer import cases as case_records
from indexer.database import create_pool
from indexer.store import _cases, _search, _versions
from indexer.store._records import CaseEntry, SearchFilters, SearchResult
from indexer.store.options import IndexOptions

__all__ = ["PgVectorStore", "open_store"]

log = logging.getLogger(__name__)


def open_store(
    conninfo: str,
    options: IndexOptions | None = None,
    *,
    max_size: int = 4,
    timeout: float = 30.0,
) -> PgVectorStore:
    """A :class:`PgVectorStore` on a pool of its own (closed by ``close()`` or ``with``);
    ``timeout``: how long a caller waits for one of its connections.

    The one way the API, the CLI, the worker and the demo open the case store, so the
    index options in the settings reach every one of them.
    """
    return PgVectorStore(create_pool(conninfo, max_size=max_size, timeout=timeout), options)


class PgVectorStore:
    """:class:`~indexer.store.VectorStore` over a psycopg 3 pool (connections with
    pgvector registered)."""

    def __init__(self, pool: ConnectionPool[Any], options: IndexOptions | None = None) -> None:
        self.pool = pool
        #: The HNSW options: ``m`` and ``ef_construction`` for the indexes this store
        #: builds, ``ef_search`` for its searches.
        self.options = options or IndexOptions()

    def close(self) -> None:
        """Close the pool."""
        self.pool.close()

    def __enter__(self) -> PgVectorStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- model versions (indexer.store._versions) --------------------------------------

    def register_model(self, model_version: str, dim: int) -> str:
        """Make sure a model version exists with its HNSW index; return its state.

        The first version ever registered becomes active at once (an empty archive is
        complete); later ones start as ``building``.
        """
        with self.pool.connection() as conn:
            return _versions.register(
                conn, model_version, dim, self.options.m, self.options.ef_construction
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

    def refresh_archive_map(self, model_version: str) -> bool:
        """Fit and store the version's archive map (:mod:`indexer.archive_map`); False
        when the version has fewer than two case vectors."""
        with self.pool.connection() as conn:
            return archive_map.refresh_archive_map(conn, model_version)

    def place_on_map(self, model_version: str, vector: np.ndarray) -> archive_map.MapPoint | None:
        """Where a query's vector lands on the version's stored archive map (None
        without a map: fewer than two case vectors)."""
        with self.pool.connection() as conn:
            return archive_map.place_on_map(conn, model_version, vector)

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

    def outlines(self, case_ids: list[str]) -> dict[str, bytes]:
        """The tumour outlines over these cases' thumbnails (those that have one)."""
        with self.pool.connection() as conn:
            return _cases.outlines(conn, case_ids)

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
                ef_search=self.options.ef_search,
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
            return _search.explain(conn, vector, k, model_version, ef_search=self.options.ef_search)
