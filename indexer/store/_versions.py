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
from indexer.store import _queries

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

_SQL = _queries.load("versions.sql")


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
        row = cur.execute(_SQL["version"], (model_version,)).fetchone()
        if row is not None:
            if row.dim != dim:
                raise ModelVersionError(
                    f"model version {model_version} is registered with dim {row.dim}, not {dim}"
                )
            state = row.state
            if state == "retired":
                conn.execute(_SQL["rebuild_retired"], (model_version,))
                state = "building"
        else:
            has_active = _scalar(conn, _SQL["any_active"])
            state = "building" if has_active else "active"
            conn.execute(_SQL["insert_version"], (model_version, dim, state, state))
        conn.execute(
            sql.SQL(_SQL["create_index"]).format(
                index=sql.Identifier(index_name(model_version)),
                dim=dim,
                m=int(m),
                ef_construction=int(ef_construction),
                model_version=sql.Literal(model_version),
            )
        )
    return state


def save_weights(conn: Conn, model_version: str, onnx: bytes) -> None:
    """Keep a version's embedder weights (the first ones kept stay)."""
    conn.execute(_SQL["save_weights"], (onnx, model_version))


def load_weights(conn: Conn, model_version: str) -> bytes | None:
    """A version's embedder weights (ONNX), if they were kept."""
    weights = _scalar(conn, _SQL["load_weights"], (model_version,))
    return bytes(weights) if weights is not None else None


def active(conn: Conn) -> str | None:
    """The version searches use by default, or None when nothing is indexed yet."""
    version: str | None = _scalar(conn, _SQL["active_version"])
    return version


def require_active(conn: Conn) -> str:
    """The active version; :class:`ModelVersionError` when there is none."""
    version = active(conn)
    if version is None:
        raise ModelVersionError("the archive is empty: no model version is active yet")
    return version


def dimension(conn: Conn, model_version: str) -> int:
    """A registered version's vector dimension."""
    dim: int | None = _scalar(conn, _SQL["version_dim"], (model_version,))
    if dim is None:
        raise ModelVersionError(f"unknown model version {model_version}")
    return dim


def coverage(conn: Conn, model_version: str) -> tuple[int, int]:
    """(cases with a vector of this version, all cases)."""
    with conn.cursor(row_factory=class_row(_Coverage)) as cur:
        row = cur.execute(_SQL["coverage"], (model_version,)).fetchone()
    assert row is not None
    return int(row.have), int(row.total)


def missing_case_ids(conn: Conn, model_version: str) -> list[str]:
    """Cases without a vector of this version (what a reindex still has to do)."""
    with conn.cursor(row_factory=scalar_row) as cur:
        ids: list[str] = cur.execute(_SQL["missing_case_ids"], (model_version,)).fetchall()
    return ids


def activate(conn: Conn, model_version: str, actor: str) -> list[str]:
    """Switch searches to ``model_version`` once it covers every case, atomically.

    Returns the versions retired by the switch (none when it was active already); the
    caller drops them after this transaction has committed.
    """
    with conn.transaction():
        conn.execute(_SQL["lock_versions"])
        # No case may be added between the coverage check and the switch.
        conn.execute(_SQL["lock_cases"])
        state = _scalar(conn, _SQL["version_state"], (model_version,))
        if state is None:
            raise ModelVersionError(f"unknown model version {model_version}")
        if state == "active":
            return []
        missing = int(_scalar(conn, _SQL["count_missing"], (model_version,)))
        if missing:
            raise ModelVersionError(
                f"model version {model_version} lacks {missing} case(s); not activated"
            )
        with conn.cursor(row_factory=scalar_row) as cur:
            old: list[str] = cur.execute(_SQL["retire_active"]).fetchall()
        conn.execute(_SQL["activate_version"], (model_version,))
        audit(conn, actor, "activate_model", model_version, {"retired": old})
    return old


def drop(conn: Conn, model_version: str) -> None:
    """Remove a non-active version's vectors and index."""
    with conn.transaction():
        state = _scalar(conn, _SQL["version_state"], (model_version,))
        if state is None:
            return
        if state == "active":
            raise ModelVersionError(f"refusing to drop the active model version {model_version}")
        conn.execute(
            sql.SQL(_SQL["drop_index"]).format(index=sql.Identifier(index_name(model_version)))
        )
        conn.execute(_SQL["delete_version_vectors"], (model_version,))
        conn.execute(_SQL["delete_version"], (model_version,))
