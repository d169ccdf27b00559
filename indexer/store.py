"""The case store: archive cases and their embeddings in PostgreSQL + pgvector.

Vectors are ``halfvec`` rows of the ``embeddings`` table, one model version beside the
other; each version has its own partial HNSW (cosine) index, so a search under one
version never scans another's vectors. Exactly one version is *active*: the one that
searches use by default. A new version is *building* until it covers every case, then
:meth:`PgVectorStore.activate` switches atomically and drops the old version's vectors.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, TypedDict

import numpy as np
import psycopg
from pgvector import HalfVector
from psycopg import sql
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from indexer.cases import audit
from indexer.errors import IndexerError

__all__ = [
    "CaseEntry",
    "HnswOptions",
    "ModelVersionError",
    "PgVectorStore",
    "SearchFilters",
    "SearchHit",
    "SearchResult",
    "VectorStore",
    "similarity_of_distance",
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


class ModelVersionError(IndexerError):
    """The model version is unknown, incomplete, or of another dimension."""

    __module__ = "indexer"


def similarity_of_distance(cosine_distance: float) -> float:
    """The similarity people are shown, ``(1 + cos) / 2``, from pgvector's cosine distance."""
    return min(1.0, max(0.0, 1.0 - cosine_distance / 2.0))


@dataclass(frozen=True)
class CaseEntry:
    """An archive case to store. ``patient_id`` is used only to exclude a query's patient."""

    case_id: str
    diagnosis: str
    patient_id: str | None = None
    source: str = "archive"
    source_uri: str | None = None
    study_instance_uid: str | None = None
    age: int | None = None
    sex: str | None = None
    given_mask: bool = False
    metadata: dict[str, Any] = field(default_factory=dict)
    tumour: dict[str, Any] = field(default_factory=dict)
    thumbnail: bytes | None = None


@dataclass(frozen=True)
class SearchFilters:
    """Restrictions on the archive cases a search may return (all optional)."""

    diagnoses: Sequence[str] | None = None
    age_min: int | None = None
    age_max: int | None = None
    sex: str | None = None
    source: str | None = None
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class SearchHit:
    """One similar case.

    ``similarity`` is ``(1 + cosine) / 2`` of the two case vectors: 1 for the same
    vector, 0.5 for unrelated (orthogonal) ones, 0 for opposite ones; never negative, and
    the same number for the same pair whatever the query (docs/models.md, "What the
    similarity means").
    """

    rank: int
    case_id: str
    diagnosis: str
    similarity: float
    source: str
    study_instance_uid: str | None
    age: int | None
    sex: str | None
    tumour: dict[str, Any]
    metadata: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "rank": self.rank,
            "case_id": self.case_id,
            "diagnosis": self.diagnosis,
            "similarity": round(self.similarity, 6),
            "source": self.source,
            "study_instance_uid": self.study_instance_uid,
            "age": self.age,
            "sex": self.sex,
            "tumour": self.tumour,
        }


@dataclass(frozen=True)
class SearchResult:
    """The overall top k and the top n of each diagnosis, under one model version."""

    model_version: str
    hits: list[SearchHit]
    per_diagnosis: dict[str, list[SearchHit]]


class VectorStore(Protocol):
    """What the rest of simcase needs from a case store."""

    def upsert(self, entry: CaseEntry, model_version: str, vector: np.ndarray) -> None: ...

    def delete_case(self, case_id: str, actor: str) -> bool: ...

    def search(
        self,
        vector: np.ndarray,
        k: int = 10,
        model_version: str | None = None,
        *,
        per_diagnosis: int = 0,
        filters: SearchFilters | None = None,
        exclude_patient: str | None = None,
    ) -> SearchResult: ...


def index_name(model_version: str) -> str:
    """The name of a model version's HNSW index (a safe identifier)."""
    return "embeddings_hnsw_" + hashlib.sha1(model_version.encode()).hexdigest()[:16]


def _as_halfvec(vector: np.ndarray, dim: int) -> HalfVector:
    array = np.asarray(vector, dtype=np.float32).reshape(-1)
    if array.shape[0] != dim:
        raise ModelVersionError(f"vector has {array.shape[0]} dimensions, the model has {dim}")
    if not np.all(np.isfinite(array)):
        raise IndexerError("vector holds NaN or infinite values")
    return HalfVector(array)


_HIT_COLUMNS = sql.SQL(
    "c.case_id, c.diagnosis, c.source, c.study_instance_uid, c.age, c.sex, c.tumour, c.metadata"
)


class PgVectorStore:
    """:class:`VectorStore` over a psycopg 3 pool (connections with pgvector registered)."""

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

    # -- model versions -------------------------------------------------------------

    def register_model(self, model_version: str, dim: int) -> str:
        """Make sure a model version exists with its HNSW index; return its state.

        The first version ever registered becomes active at once (an empty archive is
        complete); later ones start as ``building``.
        """
        with self.pool.connection() as conn, conn.transaction():
            row = conn.execute(
                "SELECT dim, state FROM model_versions WHERE model_version = %s",
                (model_version,),
            ).fetchone()
            if row is not None:
                if row[0] != dim:
                    raise ModelVersionError(
                        f"model version {model_version} is registered with dim {row[0]}, not {dim}"
                    )
                state: str = row[1]
                if state == "retired":
                    conn.execute(
                        "UPDATE model_versions SET state = 'building' WHERE model_version = %s",
                        (model_version,),
                    )
                    state = "building"
            else:
                active = conn.execute(
                    "SELECT 1 FROM model_versions WHERE state = 'active'"
                ).fetchone()
                state = "building" if active else "active"
                conn.execute(
                    "INSERT INTO model_versions (model_version, dim, state, activated_at)"
                    " VALUES (%s, %s, %s, CASE WHEN %s = 'active' THEN now() END)",
                    (model_version, dim, state, state),
                )
            conn.execute(
                sql.SQL(
                    "CREATE INDEX IF NOT EXISTS {} ON embeddings USING hnsw"
                    " ((embedding::halfvec({})) halfvec_cosine_ops)"
                    " WITH (m = {}, ef_construction = {})"
                    " WHERE model_version = {} AND slice_index = -1"
                ).format(
                    sql.Identifier(index_name(model_version)),
                    dim,
                    int(self.hnsw_m),
                    int(self.hnsw_ef_construction),
                    sql.Literal(model_version),
                )
            )
        return state

    def save_weights(self, model_version: str, onnx: bytes) -> None:
        """Keep a version's embedder weights, so queries can be embedded with it later."""
        with self.pool.connection() as conn:
            conn.execute(
                "UPDATE model_versions SET weights = %s WHERE model_version = %s"
                " AND weights IS NULL",
                (onnx, model_version),
            )

    def load_weights(self, model_version: str) -> bytes | None:
        """A version's embedder weights (ONNX), if they were kept."""
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT weights FROM model_versions WHERE model_version = %s", (model_version,)
            ).fetchone()
        return bytes(row[0]) if row and row[0] is not None else None

    def active_model_version(self) -> str | None:
        """The version searches use by default, or None when nothing is indexed yet."""
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT model_version FROM model_versions WHERE state = 'active'"
            ).fetchone()
        return row[0] if row else None

    def _dim(self, conn: psycopg.Connection[Any], model_version: str) -> int:
        row = conn.execute(
            "SELECT dim FROM model_versions WHERE model_version = %s", (model_version,)
        ).fetchone()
        if row is None:
            raise ModelVersionError(f"unknown model version {model_version}")
        dim: int = row[0]
        return dim

    def coverage(self, model_version: str) -> tuple[int, int]:
        """(cases with a vector of this version, all cases)."""
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT (SELECT count(*) FROM embeddings WHERE model_version = %s"
                " AND slice_index = -1), (SELECT count(*) FROM cases)",
                (model_version,),
            ).fetchone()
        assert row is not None
        return int(row[0]), int(row[1])

    def missing_case_ids(self, model_version: str) -> list[str]:
        """Cases without a vector of this version (what a reindex still has to do)."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT c.case_id FROM cases c WHERE NOT EXISTS (SELECT 1 FROM embeddings e"
                " WHERE e.case_id = c.case_id AND e.model_version = %s AND e.slice_index = -1)"
                " ORDER BY c.case_id",
                (model_version,),
            ).fetchall()
        return [r[0] for r in rows]

    def activate(self, model_version: str, actor: str = "system") -> None:
        """Switch searches to ``model_version`` once it covers every case, atomically.

        The previous version is retired and its vectors and index are dropped after the
        switch has committed.
        """
        with self.pool.connection() as conn:
            with conn.transaction():
                conn.execute("LOCK TABLE model_versions IN EXCLUSIVE MODE")
                # No case may be added between the coverage check and the switch.
                conn.execute("LOCK TABLE cases IN SHARE MODE")
                state = conn.execute(
                    "SELECT state FROM model_versions WHERE model_version = %s",
                    (model_version,),
                ).fetchone()
                if state is None:
                    raise ModelVersionError(f"unknown model version {model_version}")
                if state[0] == "active":
                    return
                missing = conn.execute(
                    "SELECT count(*) FROM cases c WHERE NOT EXISTS (SELECT 1 FROM embeddings e"
                    " WHERE e.case_id = c.case_id AND e.model_version = %s AND e.slice_index = -1)",
                    (model_version,),
                ).fetchone()
                if missing and missing[0]:
                    raise ModelVersionError(
                        f"model version {model_version} lacks {missing[0]} case(s); not activated"
                    )
                old = [
                    r[0]
                    for r in conn.execute(
                        "UPDATE model_versions SET state = 'retired' WHERE state = 'active'"
                        " RETURNING model_version"
                    )
                ]
                conn.execute(
                    "UPDATE model_versions SET state = 'active', activated_at = now()"
                    " WHERE model_version = %s",
                    (model_version,),
                )
                audit(conn, actor, "activate_model", model_version, {"retired": old})
            for retired in old:
                self.drop_model(retired)
        log.info("model version activated", extra={"model_version": model_version})

    def drop_model(self, model_version: str) -> None:
        """Remove a non-active version's vectors and index."""
        with self.pool.connection() as conn, conn.transaction():
            row = conn.execute(
                "SELECT state FROM model_versions WHERE model_version = %s", (model_version,)
            ).fetchone()
            if row is None:
                return
            if row[0] == "active":
                raise ModelVersionError(
                    f"refusing to drop the active model version {model_version}"
                )
            conn.execute(
                sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(index_name(model_version)))
            )
            conn.execute("DELETE FROM embeddings WHERE model_version = %s", (model_version,))
            conn.execute("DELETE FROM model_versions WHERE model_version = %s", (model_version,))

    # -- cases ----------------------------------------------------------------------

    def upsert(
        self,
        entry: CaseEntry,
        model_version: str,
        vector: np.ndarray,
        slice_vectors: Iterable[np.ndarray] = (),
    ) -> None:
        """Store (or replace) a case and its vectors under one model version."""
        with self.pool.connection() as conn, conn.transaction():
            dim = self._dim(conn, model_version)
            case_vector = _as_halfvec(vector, dim)
            conn.execute(
                "INSERT INTO cases (case_id, source, source_uri, patient_id, study_instance_uid,"
                " diagnosis, age, sex, given_mask, metadata, tumour, thumbnail)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (case_id) DO UPDATE SET source = excluded.source,"
                " source_uri = excluded.source_uri, patient_id = excluded.patient_id,"
                " study_instance_uid = excluded.study_instance_uid,"
                " diagnosis = excluded.diagnosis, age = excluded.age, sex = excluded.sex,"
                " given_mask = excluded.given_mask, metadata = excluded.metadata,"
                " tumour = excluded.tumour,"
                " thumbnail = coalesce(excluded.thumbnail, cases.thumbnail), indexed_at = now()",
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
                ),
            )
            conn.execute(
                "DELETE FROM embeddings WHERE case_id = %s AND model_version = %s",
                (entry.case_id, model_version),
            )
            rows = [(entry.case_id, model_version, -1, case_vector)]
            rows += [
                (entry.case_id, model_version, i, _as_halfvec(v, dim))
                for i, v in enumerate(slice_vectors)
            ]
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO embeddings (case_id, model_version, slice_index, embedding)"
                    " VALUES (%s, %s, %s, %s)",
                    rows,
                )

    def add_vector(self, case_id: str, model_version: str, vector: np.ndarray) -> None:
        """Add (or replace) the case vector of an existing case under another version."""
        with self.pool.connection() as conn, conn.transaction():
            dim = self._dim(conn, model_version)
            conn.execute(
                "INSERT INTO embeddings (case_id, model_version, slice_index, embedding)"
                " VALUES (%s, %s, -1, %s) ON CONFLICT (model_version, case_id, slice_index)"
                " DO UPDATE SET embedding = excluded.embedding",
                (case_id, model_version, _as_halfvec(vector, dim)),
            )

    def indexed_case_ids(self, model_version: str) -> set[str]:
        """Cases that already have a vector of this version (for resumable imports)."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT case_id FROM embeddings WHERE model_version = %s AND slice_index = -1",
                (model_version,),
            ).fetchall()
        return {r[0] for r in rows}

    def case_source(self, case_id: str) -> tuple[str | None, bool]:
        """(source_uri, given_mask) of a case."""
        with self.pool.connection() as conn:
            row = conn.execute(
                "SELECT source_uri, given_mask FROM cases WHERE case_id = %s", (case_id,)
            ).fetchone()
        if row is None:
            raise IndexerError(f"no archive case {case_id!r}")
        return row[0], bool(row[1])

    def thumbnails(self, case_ids: list[str]) -> dict[str, bytes]:
        """PNG thumbnails of these cases (those that have one)."""
        with self.pool.connection() as conn:
            rows = conn.execute(
                "SELECT case_id, thumbnail FROM cases WHERE case_id = ANY(%s)"
                " AND thumbnail IS NOT NULL",
                (case_ids,),
            ).fetchall()
        return {r[0]: bytes(r[1]) for r in rows}

    def delete_case(self, case_id: str, actor: str) -> bool:
        """Erase a case and all its vectors; audited. False when there was no such case."""
        from indexer.cases import delete_case

        with self.pool.connection() as conn:
            return delete_case(conn, case_id, actor) >= 0

    # -- search ---------------------------------------------------------------------

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
        if k < 1:
            raise ValueError("Argument 'k' must be at least 1.")
        filters = filters or SearchFilters()
        with self.pool.connection() as conn, conn.transaction():
            version = model_version or self._active(conn)
            dim = self._dim(conn, version)
            query = _as_halfvec(vector, dim)
            conn.execute(
                sql.SQL(
                    "SET LOCAL hnsw.ef_search = {}; SET LOCAL hnsw.iterative_scan = relaxed_order;"
                    " SET LOCAL enable_indexscan = {}"
                ).format(int(self.ef_search), sql.SQL("off" if exact else "on"))
            )
            top, base, params = _search_sql(version, dim, query, k, filters, exclude_patient)
            # An exact scan is never prepared: a plan cached by an earlier indexed search
            # would keep using the index whatever enable_indexscan says.
            hits = _hits(conn.execute(top, params, prepare=False if exact else None).fetchall())
            grouped: dict[str, list[SearchHit]] = {}
            if per_diagnosis > 0:
                lateral = sql.SQL(
                    "SELECT n.* FROM (SELECT DISTINCT diagnosis FROM cases) d"
                    " CROSS JOIN LATERAL ({base} AND c.diagnosis = d.diagnosis"
                    " ORDER BY distance LIMIT {n}) n ORDER BY n.diagnosis, n.distance"
                ).format(base=base, n=int(per_diagnosis))
                for hit in _hits(conn.execute(lateral, params).fetchall(), ranked=False):
                    group = grouped.setdefault(hit.diagnosis, [])
                    group.append(_reranked(hit, len(group) + 1))
        return SearchResult(model_version=version, hits=hits, per_diagnosis=grouped)

    def explain_search(
        self, vector: np.ndarray, k: int = 10, model_version: str | None = None
    ) -> str:
        """``EXPLAIN ANALYZE`` of the top-k statement that :meth:`search` runs (diagnostics)."""
        with self.pool.connection() as conn, conn.transaction():
            version = model_version or self._active(conn)
            dim = self._dim(conn, version)
            conn.execute(
                sql.SQL(
                    "SET LOCAL hnsw.ef_search = {}; SET LOCAL hnsw.iterative_scan = relaxed_order"
                ).format(int(self.ef_search))
            )
            top, _, params = _search_sql(
                version, dim, _as_halfvec(vector, dim), k, SearchFilters(), None
            )
            rows = conn.execute(
                sql.SQL("EXPLAIN (ANALYZE, BUFFERS) {}").format(top), params
            ).fetchall()
        return "\n".join(str(r[0]) for r in rows)

    def _active(self, conn: psycopg.Connection[Any]) -> str:
        row = conn.execute(
            "SELECT model_version FROM model_versions WHERE state = 'active'"
        ).fetchone()
        if row is None:
            raise ModelVersionError("the archive is empty: no model version is active yet")
        version: str = row[0]
        return version


def _search_sql(
    version: str,
    dim: int,
    query: HalfVector,
    k: int,
    filters: SearchFilters,
    exclude_patient: str | None,
) -> tuple[sql.Composed, sql.Composed, dict[str, Any]]:
    """The top-k statement, its filtered base (for the per-diagnosis query), its parameters.

    The k nearest rows come from the version's HNSW index (ordered by the indexed
    expression); the join with ``cases`` fetches only those rows' columns by primary key.
    """
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


def _hits(rows: list[tuple[Any, ...]], *, ranked: bool = True) -> list[SearchHit]:
    return [
        SearchHit(
            rank=i + 1 if ranked else 0,
            case_id=r[0],
            diagnosis=r[1],
            source=r[2],
            study_instance_uid=r[3],
            age=r[4],
            sex=r[5],
            tumour=r[6],
            metadata=r[7],
            # pgvector's <=> is the cosine distance 1 - cos: (1 + cos) / 2 = 1 - d / 2.
            similarity=similarity_of_distance(float(r[8])),
        )
        for i, r in enumerate(rows)
    ]


def _reranked(hit: SearchHit, rank: int) -> SearchHit:
    from dataclasses import replace

    return replace(hit, rank=rank)
