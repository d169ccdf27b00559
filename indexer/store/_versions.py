"""Model versions: registration with their HNSW index, weights, coverage, the switch.

Functions over one connection; :class:`~indexer.store.PgVectorStore` opens it.
Exactly one version is *active* (the one searches use by default); a new version is
*building* until it covers every case, then :func:`activate` switches atomically.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import class_row, scalar_row

from indexer.cases import audit
from indexer.errors import ModelVersionError

__all__ = [
    "activate",
    "active",
    "coverage",
    "dimension",
    "drop",
    "index_name",
    "load_weights",
    "missing_case_ids",
    "register",
    "require_active",
    "save_weights",
]

Conn = psycopg.Connection[Any]

_MISSING = (
    "FROM cases c WHERE NOT EXISTS (SELECT 1 FROM embeddings e"
    " WHERE e.case_id = c.case_id AND e.model_version = %s AND e.slice_index = -1)"
)


@dataclass(frozen=True)
class _Version:
    dim: int
    state: str


@dataclass(frozen=True)
class _Coverage:
    have: int
    total: int


def index_name(model_version: str) -> str:
    """The name of a model version's HNSW index (a safe identifier)."""
    return "embeddings_hnsw_" + hashlib.sha1(model_version.encode()).hexdigest()[:16]


def _scalar(conn: Conn, query: str, params: tuple[Any, ...] = ()) -> Any:
    with conn.cursor(row_factory=scalar_row) as cur:
        return cur.execute(query, params).fetchone()


def register(conn: Conn, model_version: str, dim: int, m: int, ef_construction: int) -> str:
    """Make sure a model version exists with its HNSW index; return its state.

    The first version ever registered becomes active at once (an empty archive is
    complete); later ones start as ``building``; a retired one is building again.
    """
    with conn.transaction(), conn.cursor(row_factory=class_row(_Version)) as cur:
        row = cur.execute(
            "SELECT dim, state FROM model_versions WHERE model_version = %s", (model_version,)
        ).fetchone()
        if row is not None:
            if row.dim != dim:
                raise ModelVersionError(
                    f"model version {model_version} is registered with dim {row.dim}, not {dim}"
                )
            state = row.state
            if state == "retired":
                conn.execute(
                    "UPDATE model_versions SET state = 'building' WHERE model_version = %s",
                    (model_version,),
                )
                state = "building"
        else:
            has_active = _scalar(conn, "SELECT 1 FROM model_versions WHERE state = 'active'")
            state = "building" if has_active else "active"
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
                int(m),
                int(ef_construction),
                sql.Literal(model_version),
            )
        )
    return state


def save_weights(conn: Conn, model_version: str, onnx: bytes) -> None:
    """Keep a version's embedder weights (the first ones kept stay)."""
    conn.execute(
        "UPDATE model_versions SET weights = %s WHERE model_version = %s AND weights IS NULL",
        (onnx, model_version),
    )


def load_weights(conn: Conn, model_version: str) -> bytes | None:
    """A version's embedder weights (ONNX), if they were kept."""
    weights = _scalar(
        conn, "SELECT weights FROM model_versions WHERE model_version = %s", (model_version,)
    )
    return bytes(weights) if weights is not None else None


def active(conn: Conn) -> str | None:
    """The version searches use by default, or None when nothing is indexed yet."""
    version: str | None = _scalar(
        conn, "SELECT model_version FROM model_versions WHERE state = 'active'"
    )
    return version


def require_active(conn: Conn) -> str:
    """The active version; :class:`ModelVersionError` when there is none."""
    version = active(conn)
    if version is None:
        raise ModelVersionError("the archive is empty: no model version is active yet")
    return version


def dimension(conn: Conn, model_version: str) -> int:
    """A registered version's vector dimension."""
    dim: int | None = _scalar(
        conn, "SELECT dim FROM model_versions WHERE model_version = %s", (model_version,)
    )
    if dim is None:
        raise ModelVersionError(f"unknown model version {model_version}")
    return dim


def coverage(conn: Conn, model_version: str) -> tuple[int, int]:
    """(cases with a vector of this version, all cases)."""
    with conn.cursor(row_factory=class_row(_Coverage)) as cur:
        row = cur.execute(
            "SELECT (SELECT count(*) FROM embeddings WHERE model_version = %s"
            " AND slice_index = -1) AS have, (SELECT count(*) FROM cases) AS total",
            (model_version,),
        ).fetchone()
    assert row is not None
    return int(row.have), int(row.total)


def missing_case_ids(conn: Conn, model_version: str) -> list[str]:
    """Cases without a vector of this version (what a reindex still has to do)."""
    with conn.cursor(row_factory=scalar_row) as cur:
        ids: list[str] = cur.execute(
            f"SELECT c.case_id {_MISSING} ORDER BY c.case_id", (model_version,)
        ).fetchall()
    return ids


def activate(conn: Conn, model_version: str, actor: str) -> list[str]:
    """Switch searches to ``model_version`` once it covers every case, atomically.

    Returns the versions retired by the switch (none when it was active already); the
    caller drops them after this transaction has committed.
    """
    with conn.transaction():
        conn.execute("LOCK TABLE model_versions IN EXCLUSIVE MODE")
        # No case may be added between the coverage check and the switch.
        conn.execute("LOCK TABLE cases IN SHARE MODE")
        state = _scalar(
            conn, "SELECT state FROM model_versions WHERE model_version = %s", (model_version,)
        )
        if state is None:
            raise ModelVersionError(f"unknown model version {model_version}")
        if state == "active":
            return []
        missing = int(_scalar(conn, f"SELECT count(*) {_MISSING}", (model_version,)))
        if missing:
            raise ModelVersionError(
                f"model version {model_version} lacks {missing} case(s); not activated"
            )
        with conn.cursor(row_factory=scalar_row) as cur:
            old: list[str] = cur.execute(
                "UPDATE model_versions SET state = 'retired' WHERE state = 'active'"
                " RETURNING model_version"
            ).fetchall()
        conn.execute(
            "UPDATE model_versions SET state = 'active', activated_at = now()"
            " WHERE model_version = %s",
            (model_version,),
        )
        audit(conn, actor, "activate_model", model_version, {"retired": old})
    return old


def drop(conn: Conn, model_version: str) -> None:
    """Remove a non-active version's vectors and index."""
    with conn.transaction():
        state = _scalar(
            conn, "SELECT state FROM model_versions WHERE model_version = %s", (model_version,)
        )
        if state is None:
            return
        if state == "active":
            raise ModelVersionError(f"refusing to drop the active model version {model_version}")
        conn.execute(
            sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(index_name(model_version)))
        )
        conn.execute("DELETE FROM embeddings WHERE model_version = %s", (model_version,))
        conn.execute("DELETE FROM model_versions WHERE model_version = %s", (model_version,))
