"""HNSW build parameters: validated by the store, set through ``index.*`` settings."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from indexer.store import DEFAULT_HNSW_EF_CONSTRUCTION, DEFAULT_HNSW_M, PgVectorStore
from plugin.settings import IndexSettings, Settings

POOL: Any = object()  # the constructor only keeps the pool


def test_store_defaults_and_arguments() -> None:
    store = PgVectorStore(POOL)
    assert (store.hnsw_m, store.hnsw_ef_construction) == (
        DEFAULT_HNSW_M,
        DEFAULT_HNSW_EF_CONSTRUCTION,
    )
    store = PgVectorStore(POOL, hnsw_m=32, hnsw_ef_construction=200)
    assert (store.hnsw_m, store.hnsw_ef_construction) == (32, 200)


@pytest.mark.parametrize(("m", "ef"), [(1, 64), (101, 300), (16, 31), (16, 1001)])
def test_store_rejects_parameters_pgvector_would_refuse(m: int, ef: int) -> None:
    with pytest.raises(ValueError, match="hnsw_"):
        PgVectorStore(POOL, hnsw_m=m, hnsw_ef_construction=ef)


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIMCASE_INDEX__HNSW_M", "32")
    monkeypatch.setenv("SIMCASE_INDEX__HNSW_EF_CONSTRUCTION", "160")
    options = Settings().index.store_options()
    assert options == {"hnsw_m": 32, "hnsw_ef_construction": 160}
    store = PgVectorStore(POOL, **options)
    assert (store.hnsw_m, store.hnsw_ef_construction) == (32, 160)


def test_settings_defaults_are_the_stores() -> None:
    assert IndexSettings().store_options() == {
        "hnsw_m": DEFAULT_HNSW_M,
        "hnsw_ef_construction": DEFAULT_HNSW_EF_CONSTRUCTION,
    }


def test_settings_refuse_ef_construction_below_twice_m() -> None:
    with pytest.raises(ValidationError, match="at least twice"):
        IndexSettings(hnsw_m=32, hnsw_ef_construction=40)
