"""The archive map kept in PostgreSQL: fitted per model version at index time, cases
added later placed with the stored fit, erased cases and dropped versions gone, a map
fitted on first read for archives indexed before maps were kept, and a query placed on
the server with the stored fit."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest
from psycopg_pool import ConnectionPool

from indexer.archive_map import fit_projection, read_archive_map, refresh_archive_map
from indexer.errors import IndexerError
from indexer.store import CaseEntry, PgVectorStore

pytestmark = pytest.mark.integration

DIAGNOSES = ["glioma", "meningioma", "metastasis"]
DIM = 16


def clustered(n: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((3, DIM)) * 2
    vectors = np.stack([centres[i % 3] + 0.3 * rng.standard_normal(DIM) for i in range(n)])
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def fill(store: PgVectorStore, version: str, vectors: np.ndarray, start: int = 0) -> None:
    for i, vector in enumerate(vectors, start=start):
        entry = CaseEntry(f"case-{i:03d}", DIAGNOSES[i % 3], patient_id=f"p{i}")
        store.upsert(entry, version, vector)


def stored(pool: ConnectionPool[Any], version: str) -> dict[str, tuple[float, float]]:
    with pool.connection() as conn:
        rows = conn.execute(
            "SELECT case_id, x, y FROM archive_map_points WHERE model_version = %s", (version,)
        ).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def test_refresh_stores_the_fit_and_every_case(pool: ConnectionPool[Any]) -> None:
    store = PgVectorStore(pool)
    store.register_model("v1", DIM)
    vectors = clustered(30)
    fill(store, "v1", vectors)
    assert store.refresh_archive_map("v1")
    points = stored(pool, "v1")
    assert len(points) == 30
    # halfvec storage: the fit matches a fit of the float16-rounded vectors.
    expected = fit_projection(vectors.astype(np.float16).astype(np.float64))
    xy = expected.apply(vectors.astype(np.float16).astype(np.float64))
    assert points["case-007"] == pytest.approx(tuple(xy[7]), abs=1e-6)
    with pool.connection() as conn:
        mapped = read_archive_map(conn)
    assert mapped.model_version == "v1" and mapped.total_cases == 30 == mapped.fitted_cases
    assert np.allclose(mapped.projection.components, expected.components, atol=1e-6)
    assert set(mapped.diagnoses) == set(DIAGNOSES)
    # A fit on an even sample when the archive is larger than max_cases; all placed.
    with pool.connection() as conn:
        assert refresh_archive_map(conn, "v1", max_cases=10)
        sampled = read_archive_map(conn, max_cases=10)
    assert sampled.fitted_cases == 10 and len(sampled.case_ids) == 10
    assert sampled.total_cases == 30 and len(stored(pool, "v1")) == 30


def test_new_cases_are_placed_with_the_stored_fit_and_erased_ones_leave(
    pool: ConnectionPool[Any],
) -> None:
    store = PgVectorStore(pool)
    store.register_model("v1", DIM)
    vectors = clustered(31, seed=3)
    fill(store, "v1", vectors[:30])
    store.refresh_archive_map("v1")
    with pool.connection() as conn:
        before = read_archive_map(conn)
    fill(store, "v1", vectors[30:], start=30)  # one study added, no bulk import
    with pool.connection() as conn:
        after = read_archive_map(conn)
    assert after.computed_at == before.computed_at  # not refitted
    assert np.array_equal(after.projection.components, before.projection.components)
    new = after.case_ids.index("case-030")
    placed = before.projection.apply(vectors[30:].astype(np.float16).astype(np.float64))[0]
    assert after.xy[new] == pytest.approx(placed, abs=1e-6)
    assert after.total_cases == 31 and len(after.case_ids) == 31

    assert store.delete_case("case-030", actor="test")
    with pool.connection() as conn:
        assert "case-030" not in read_archive_map(conn).case_ids
    assert "case-030" not in stored(pool, "v1")


def test_each_version_has_its_own_map_and_a_dropped_one_goes(pool: ConnectionPool[Any]) -> None:
    store = PgVectorStore(pool)
    store.register_model("v1", DIM)
    fill(store, "v1", clustered(12, seed=1))
    store.refresh_archive_map("v1")
    store.register_model("v2", DIM)
    for i, vector in enumerate(clustered(12, seed=2)):
        store.add_vector(f"case-{i:03d}", "v2", vector)
    store.refresh_archive_map("v2")
    assert stored(pool, "v1") != stored(pool, "v2")
    store.activate("v2", actor="test")  # retires and drops v1, its map with it
    with pool.connection() as conn:
        versions = [r[0] for r in conn.execute("SELECT model_version FROM archive_maps")]
        assert read_archive_map(conn).model_version == "v2"
    assert versions == ["v2"] and stored(pool, "v1") == {}


def test_a_map_is_fitted_on_first_read_when_none_was_kept(pool: ConnectionPool[Any]) -> None:
    store = PgVectorStore(pool)
    with pool.connection() as conn:
        with pytest.raises(IndexerError, match="no model version is active"):
            read_archive_map(conn)
    store.register_model("v1", DIM)
    fill(store, "v1", clustered(1))
    with pool.connection() as conn:
        with pytest.raises(IndexerError, match="fewer than two"):
            read_archive_map(conn)
    fill(store, "v1", clustered(40, seed=5)[1:], start=1)  # "indexed before maps were kept"
    started = time.perf_counter()
    with pool.connection() as conn:
        mapped = read_archive_map(conn)
    assert len(mapped.case_ids) == 40 and time.perf_counter() - started < 10
    assert len(stored(pool, "v1")) == 40


def test_a_query_is_placed_with_the_stored_fit(pool: ConnectionPool[Any]) -> None:
    store = PgVectorStore(pool)
    store.register_model("v1", DIM)
    vectors = clustered(2, seed=7)
    fill(store, "v1", vectors[:1])
    assert store.place_on_map("v1", vectors[0]) is None  # one case: no map
    fill(store, "v1", clustered(25, seed=7)[1:], start=1)  # indexed before maps were kept
    point = store.place_on_map("v1", vectors[0])  # fitted and stored on first use
    points = stored(pool, "v1")
    assert len(points) == 25
    # A stored case's vector (halfvec, as stored) lands on its stored point.
    as_stored = vectors[0].astype(np.float16).astype(np.float32)
    again = store.place_on_map("v1", as_stored)
    assert again is not None and (again.x, again.y) == pytest.approx(points["case-000"], abs=1e-9)
    assert point is not None and (point.x, point.y) == pytest.approx(points["case-000"], abs=1e-3)
    with pool.connection() as conn:
        fitted_at = conn.execute("SELECT computed_at FROM archive_maps").fetchone()
    fill(store, "v1", clustered(3, seed=8), start=25)  # the fit does not move
    store.place_on_map("v1", vectors[0])
    with pool.connection() as conn:
        assert conn.execute("SELECT computed_at FROM archive_maps").fetchone() == fitted_at
