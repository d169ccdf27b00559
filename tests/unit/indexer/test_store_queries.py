"""The store's named query files: the parser's rules and the shipped files' names."""

from __future__ import annotations

from types import ModuleType

import pytest

from indexer.store import _cases, _queries, _search, _versions


def test_parse_names_each_query_and_drops_comments() -> None:
    text = """
    -- a file comment
    -- name: first
    -- what it does
    SELECT 1
      FROM t

    -- name: second
    UPDATE t SET a = %s
    """
    queries = _queries.parse(text)
    assert dict(queries) == {"first": "SELECT 1 FROM t", "second": "UPDATE t SET a = %s"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("SELECT 1\n-- name: a\nSELECT 2", "before the first"),
        ("-- name: a\nSELECT 1\n-- name: a\nSELECT 2", "repeated"),
        ("-- name:\nSELECT 1", "empty"),
        ("-- name: a\n-- only a comment\n-- name: b\nSELECT 1", "without SQL: a"),
    ],
)
def test_parse_refuses_a_malformed_file(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        _queries.parse(text)


def test_parsed_queries_are_read_only() -> None:
    queries = _queries.parse("-- name: a\nSELECT 1")
    with pytest.raises(TypeError):
        queries["a"] = "DROP TABLE cases"  # type: ignore[index]


@pytest.mark.parametrize(
    ("filename", "module", "names"),
    [
        ("cases.sql", _cases, {"upsert_case", "insert_vector", "thumbnails", "save_outline"}),
        ("versions.sql", _versions, {"create_index", "coverage", "retire_active"}),
        ("search.sql", _search, {"filtered_vectors", "top_k", "top_per_diagnosis", "sex"}),
    ],
)
def test_each_store_part_loads_its_file_once(
    filename: str, module: ModuleType, names: set[str]
) -> None:
    loaded = _queries.load(filename)
    assert names <= set(loaded)
    assert module._SQL == loaded


def test_every_search_filter_has_its_clause() -> None:
    for name in _search._FILTER_CLAUSES:
        assert f"%({name})s" in _search._SQL[name]
