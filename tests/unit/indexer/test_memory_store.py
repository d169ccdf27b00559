"""MemoryStore: the in-memory VectorStore keeps the rules of PgVectorStore."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from indexer.errors import IndexerError, ModelVersionError
from indexer.store import CaseEntry, MemoryStore, PgVectorStore, SearchFilters, VectorStore

DIM = 4


def unit(*values: float) -> np.ndarray:
    vector = np.asarray(values, dtype=np.float32)
    return vector / np.linalg.norm(vector)


def filled() -> MemoryStore:
    store = MemoryStore()
    assert store.register_model("m1", DIM) == "active"
    cases = [
        ("a", "glioma", "p1", unit(1, 0, 0, 0)),
        ("b", "glioma", "p2", unit(1, 0.2, 0, 0)),
        ("c", "metastasis", "p3", unit(1, 0.5, 0, 0)),
        ("d", "meningioma", "p4", unit(0, 1, 0, 0)),
        ("e", "metastasis", "p1", unit(1, 0.1, 0, 0)),
    ]
    for case_id, diagnosis, patient, vector in cases:
        entry = CaseEntry(case_id, diagnosis, patient_id=patient, age=40 + len(case_id))
        store.upsert(entry, "m1", vector)
    return store


def test_both_stores_play_the_vector_store_role() -> None:
    store: VectorStore = MemoryStore()
    assert isinstance(store, MemoryStore)
    members = [
        name
        for name, value in vars(VectorStore).items()
        if callable(value) and not name.startswith("_")
    ]
    assert "search" in members and "upsert" in members
    for implementation in (MemoryStore, PgVectorStore):
        for name in members:
            ours = inspect.signature(getattr(implementation, name))
            protocol = inspect.signature(getattr(VectorStore, name))
            assert list(ours.parameters) == list(protocol.parameters), (implementation, name)


def test_search_ranks_by_cosine_and_never_returns_the_patient() -> None:
    store = filled()
    result = store.search(unit(1, 0, 0, 0), 3, exclude_patient="p1")
    assert result.model_version == "m1"
    assert [h.case_id for h in result.hits] == ["b", "c", "d"]
    assert [h.rank for h in result.hits] == [1, 2, 3]
    assert result.hits[0].similarity > result.hits[1].similarity > result.hits[2].similarity
    assert store.search(unit(1, 0, 0, 0), 1).hits[0].similarity == pytest.approx(1.0)


def test_per_diagnosis_groups_and_filters() -> None:
    store = filled()
    result = store.search(unit(1, 0, 0, 0), 2, per_diagnosis=1)
    assert list(result.per_diagnosis) == ["glioma", "meningioma", "metastasis"]
    assert [g[0].case_id for g in result.per_diagnosis.values()] == ["a", "d", "e"]
    assert all(g[0].rank == 1 for g in result.per_diagnosis.values())
    only = store.search(unit(1, 0, 0, 0), 5, filters=SearchFilters(diagnoses=["metastasis"]))
    assert [h.case_id for h in only.hits] == ["e", "c"]
    assert store.search(unit(1, 0, 0, 0), 5, filters=SearchFilters(age_min=42)).hits == []


def test_a_new_version_builds_until_it_covers_every_case() -> None:
    store = filled()
    assert store.register_model("m2", DIM) == "building"
    assert store.missing_case_ids("m2") == ["a", "b", "c", "d", "e"]
    with pytest.raises(ModelVersionError, match="lacks 5"):
        store.activate("m2")
    for case_id in store.missing_case_ids("m2"):
        store.add_vector(case_id, "m2", unit(0, 0, 1, 0))
    assert store.coverage("m2") == (5, 5)
    store.activate("m2", actor="test")
    assert store.active_model_version() == "m2"
    assert store.indexed_case_ids("m1") == set()
    with pytest.raises(ModelVersionError, match="unknown"):
        store.search(unit(1, 0, 0, 0), model_version="m1")


def test_vectors_weights_thumbnails_and_erasure() -> None:
    store = filled()
    with pytest.raises(ModelVersionError, match="dimensions"):
        store.upsert(CaseEntry("x", "glioma"), "m1", np.ones(DIM + 1))
    with pytest.raises(IndexerError, match="NaN"):
        store.add_vector("a", "m1", np.full(DIM, np.nan))
    with pytest.raises(ModelVersionError, match="dim"):
        store.register_model("m1", DIM + 1)
    store.save_weights("m1", b"onnx")
    store.save_weights("m1", b"other")
    assert store.load_weights("m1") == b"onnx"
    store.upsert(CaseEntry("t", "glioma", thumbnail=b"png"), "m1", unit(0, 0, 0, 1))
    store.upsert(CaseEntry("t", "glioma", source_uri="/x"), "m1", unit(0, 0, 0, 1))
    assert store.thumbnails(["t", "a", "nope"]) == {"t": b"png"}
    assert store.case_source("t") == ("/x", False)
    assert store.delete_case("t", "admin") is True
    assert store.delete_case("t", "admin") is False
    assert ("admin", "delete_case", "t") in store.audit_log
    with pytest.raises(IndexerError, match="no archive case"):
        store.case_source("t")
    with pytest.raises(ValueError, match="'k'"):
        store.search(unit(1, 0, 0, 0), 0)


def test_the_archive_map_follows_the_versions() -> None:
    store = filled()
    assert store.refresh_archive_map("m1")
    assert store.maps["m1"].components.shape == (2, DIM)
    assert not store.refresh_archive_map("nothing-indexed")
    store.register_model("m2", DIM)
    for case_id in list(store.cases):
        store.add_vector(case_id, "m2", unit(0, 0, 1, len(case_id)))
    store.activate("m2")
    assert "m1" not in store.maps
