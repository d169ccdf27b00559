"""HNSW options: validated once by ``IndexOptions``, set through ``index.*`` settings."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from indexer.store import IndexOptions, PgVectorStore
from indexer.store.options import DEFAULT_EF_CONSTRUCTION, DEFAULT_EF_SEARCH, DEFAULT_M
from plugin.settings import IndexSettings, Settings

POOL: Any = object()  # the constructor only keeps the pool


def test_store_defaults_and_arguments() -> None:
    store = PgVectorStore(POOL)
    assert (store.options.m, store.options.ef_construction) == (
        DEFAULT_M,
        DEFAULT_EF_CONSTRUCTION,
    )
    assert store.options.ef_search == DEFAULT_EF_SEARCH
    store = PgVectorStore(POOL, IndexOptions(m=32, ef_construction=200))
    assert (store.options.m, store.options.ef_construction) == (32, 200)


@pytest.mark.parametrize(
    ("m", "ef", "ef_search"),
    [(1, 64, 100), (101, 300, 100), (16, 31, 100), (16, 1001, 100), (16, 64, 0), (16, 64, 1001)],
)
def test_options_reject_parameters_pgvector_would_refuse(m: int, ef: int, ef_search: int) -> None:
    with pytest.raises(ValueError, match=r"Argument '(m|ef_construction|ef_search)'"):
        IndexOptions(m=m, ef_construction=ef, ef_search=ef_search)


def test_options_refuse_what_is_not_an_int() -> None:
    with pytest.raises(TypeError, match="Argument 'm' must be an int"):
        IndexOptions(m=16.5)  # type: ignore[arg-type]


def test_settings_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIMCASE_INDEX__HNSW_M", "32")
    monkeypatch.setenv("SIMCASE_INDEX__HNSW_EF_CONSTRUCTION", "160")
    monkeypatch.setenv("SIMCASE_INDEX__HNSW_EF_SEARCH", "250")
    options = Settings().index.options()
    assert options == IndexOptions(m=32, ef_construction=160, ef_search=250)
    store = PgVectorStore(POOL, options)
    assert (store.options.m, store.options.ef_construction) == (32, 160)
    assert store.options.ef_search == 250


def test_settings_defaults_are_the_stores() -> None:
    assert IndexSettings().options() == IndexOptions(
        m=DEFAULT_M, ef_construction=DEFAULT_EF_CONSTRUCTION, ef_search=DEFAULT_EF_SEARCH
    )


def test_settings_refuse_ef_construction_below_twice_m() -> None:
    with pytest.raises(ValidationError, match="at least twice"):
        IndexSettings(hnsw_m=32, hnsw_ef_construction=40)


@pytest.mark.parametrize("field", ["hnsw_m", "hnsw_ef_construction", "hnsw_ef_search"])
def test_settings_refuse_out_of_range_values(field: str) -> None:
    with pytest.raises(ValidationError, match="must be between"):
        IndexSettings(**{field: 5000})
