"""PgVectorStore on a real PostgreSQL + pgvector: search, grouping, filters, reindex."""

from __future__ import annotations

import threading
import time
from typing import Any

import numpy as np
import pytest
from psycopg_pool import ConnectionPool

from indexer.errors import ModelVersionError
from indexer.store import CaseEntry, IndexOptions, PgVectorStore, SearchFilters

pytestmark = pytest.mark.integration

DIAGNOSES = ["glioma", "meningioma", "metastasis"]
DIM = 32


def clustered(n: int, seed: int = 0, dim: int = DIM) -> tuple[np.ndarray, list[str]]:
    """Unit vectors around one centre per diagnosis."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((len(DIAGNOSES), dim))
    labels = [DIAGNOSES[i % len(DIAGNOSES)] for i in range(n)]
    vectors = np.stack([centres[i % 3] + 0.6 * rng.standard_normal(dim) for i in range(n)])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors.astype(np.float32), labels


def fill(store: PgVectorStore, n: int, version: str = "m1") -> np.ndarray:
    store.register_model(version, DIM)
    vectors, labels = clustered(n)
    for i, (v, d) in enumerate(zip(vectors, labels, strict=True)):
        store.upsert(
            CaseEntry(
                case_id=f"c{i:04d}",
                diagnosis=d,
                patient_id=f"p{i // 2:04d}",  # two time points per patient
                age=20 + i % 60,
                sex="F" if i % 2 else "M",
                source="brats" if i % 5 else "local",
                metadata={"site": "A" if i % 4 else "B"},
                tumour={"volume_ml": float(i)},
            ),
            version,
            v,
        )
    return vectors


def test_search_returns_nearest_and_excludes_the_patient(pool: ConnectionPool[Any]) -> None:
    store = PgVectorStore(pool)
    vectors = fill(store, 30)
    query = vectors[10]
    result = store.search(query, k=5, exclude_patient="p0005")  # c0010 and c0011
    ids = [h.case_id for h in result.hits]
    assert result.model_version == "m1"
    assert len(ids) == 5
    assert "c0010" not in ids and "c0011" not in ids
    sims = [h.similarity for h in result.hits]
    assert sims == sorted(sims, reverse=True)
    expected = np.argsort(-(vectors @ query))
    expected_ids = [f"c{i:04d}" for i in expected if i not in (10, 11)][:5]
    assert ids == expected_ids
    assert [h.rank for h in result.hits] == [1, 2, 3, 4, 5]
    # Without exclusion the query's own vector comes first.
    assert store.search(query, k=1).hits[0].case_id == "c0010"


def test_per_diagnosis_grouping_in_one_call(pool: ConnectionPool[Any]) -> None:
    store = PgVectorStore(pool)
    vectors = fill(store, 30)
    result = store.search(vectors[0], k=4, per_diagnosis=3)
    assert sorted(result.per_diagnosis) == DIAGNOSES
    for diagnosis, hits in result.per_diagnosis.items():
        assert [h.rank for h in hits] == [1, 2, 3]
        assert {h.diagnosis for h in hits} == {diagnosis}
        sims = [h.similarity for h in hits]
        assert sims == sorted(sims, reverse=True)


def test_filters(pool: ConnectionPool[Any]) -> None:
    store = PgVectorStore(pool)
    vectors = fill(store, 60)
    q = vectors[3]
    hits = store.search(q, k=10, filters=SearchFilters(sex="F", age_min=30, age_max=50)).hits
    assert hits and all(h.sex == "F" and 30 <= (h.age or 0) <= 50 for h in hits)
    hits = store.search(q, k=10, filters=SearchFilters(diagnoses=["meningioma"])).hits
    assert len(hits) == 10 and {h.diagnosis for h in hits} == {"meningioma"}
    hits = store.search(q, k=50, filters=SearchFilters(source="local", metadata={"site": "B"})).hits
    assert hits and all(h.source == "local" for h in hits)
    assert all(int(h.case_id[1:]) % 20 == 0 for h in hits)


def test_selective_filter_still_returns_k_rows(pool: ConnectionPool[Any]) -> None:
    """With an HNSW index and a 2% filter, iterative scans must still fill k rows."""
    store = PgVectorStore(pool, IndexOptions(ef_search=20))
    store.register_model("m1", DIM)
    vectors, labels = clustered(1500, seed=3)
    rows = [
        (f"c{i:05d}", labels[i], "rare" if i % 50 == 0 else "common", v)
        for i, v in enumerate(vectors)
    ]
    with pool.connection() as conn, conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO cases (case_id, diagnosis, source) VALUES (%s, %s, %s)",
            [r[:3] for r in rows],
        )
        from pgvector import HalfVector

        cur.executemany(
            "INSERT INTO embeddings (case_id, model_version, embedding) VALUES (%s, 'm1', %s)",
            [(r[0], HalfVector(r[3])) for r in rows],
        )
        conn.execute("ANALYZE embeddings")
        conn.execute("ANALYZE cases")
    result = store.search(vectors[1], k=20, filters=SearchFilters(source="rare"))
    assert len(result.hits) == 20
    assert all(int(h.case_id[1:]) % 50 == 0 for h in result.hits)


def test_reindex_switches_atomically_while_searches_run(pool: ConnectionPool[Any]) -> None:
    store = PgVectorStore(pool)
    vectors = fill(store, 30, "m1")
    assert store.register_model("m2", DIM) == "building"
    assert store.active_model_version() == "m1"
    with pytest.raises(ModelVersionError, match="lacks 30"):
        store.activate("m2")

    failures: list[str] = []
    versions: set[str] = set()
    done = threading.Event()

    def search_loop() -> None:
        i = 0
        while not done.is_set():
            try:
                result = store.search(vectors[i % 30], k=5)
                versions.add(result.model_version)
                if len(result.hits) != 5:
                    failures.append(f"{len(result.hits)} hits under {result.model_version}")
            except Exception as exc:  # any failed search fails the test below
                failures.append(repr(exc))
            i += 1

    thread = threading.Thread(target=search_loop)
    thread.start()
    try:
        rng = np.random.default_rng(9)
        for case_id in store.missing_case_ids("m2"):
            v = rng.standard_normal(DIM).astype(np.float32)
            store.add_vector(case_id, "m2", v / np.linalg.norm(v))
        assert store.coverage("m2") == (30, 30)
        time.sleep(0.2)
        store.activate("m2", actor="test")
        time.sleep(0.2)
    finally:
        done.set()
        thread.join()
    assert not failures, failures[:5]
    assert versions == {"m1", "m2"}
    assert store.active_model_version() == "m2"
    with pool.connection() as conn:
        left = conn.execute("SELECT count(*) FROM embeddings WHERE model_version = 'm1'").fetchone()
        assert left == (0,)
        assert conn.execute("SELECT count(*) FROM model_versions").fetchone() == (1,)


def test_delete_case_removes_every_vector(pool: ConnectionPool[Any]) -> None:
    store = PgVectorStore(pool)
    vectors = fill(store, 9)
    store.upsert(
        CaseEntry(case_id="c0000", diagnosis="glioma"), "m1", vectors[0], slice_vectors=vectors[:3]
    )
    assert store.delete_case("c0000", actor="dpo")
    assert not store.delete_case("c0000", actor="dpo")
    assert "c0000" not in {h.case_id for h in store.search(vectors[0], k=9).hits}
    with pool.connection() as conn:
        assert conn.execute(
            "SELECT count(*) FROM embeddings WHERE case_id = 'c0000'"
        ).fetchone() == (0,)


def test_dimension_mismatch_is_refused(pool: ConnectionPool[Any]) -> None:
    store = PgVectorStore(pool)
    fill(store, 3)
    with pytest.raises(ModelVersionError, match="dimensions"):
        store.search(np.ones(DIM + 1, dtype=np.float32), k=1)
    with pytest.raises(ModelVersionError, match="dim"):
        store.register_model("m1", DIM * 2)
