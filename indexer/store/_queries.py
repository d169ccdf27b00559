"""The store's SQL, read once from the named query files beside this module.

Each ``.sql`` file holds the queries of one part of the store, each under a
``-- name: <query>`` line (as procrastinate keeps its SQL); ``--`` comment lines are
dropped. Queries that name an identifier or a number the server must see literally
(an index name, ``LIMIT``) are ``{}`` templates for :class:`psycopg.sql.SQL`.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from types import MappingProxyType

__all__ = ["load", "parse"]

_NAME = "-- name:"


def parse(text: str) -> Mapping[str, str]:
    """The named queries of one query file's text, in file order.

    Raises :class:`ValueError` for SQL before the first name, a name given twice or a
    name with no SQL under it.
    """
    queries: dict[str, list[str]] = {}
    current: list[str] | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped.startswith(_NAME):
            name = stripped.removeprefix(_NAME).strip()
            if not name or name in queries:
                raise ValueError(f"line {number}: query name {name!r} is empty or repeated")
            current = queries[name] = []
        elif stripped and not stripped.startswith("--"):
            if current is None:
                raise ValueError(f"line {number}: SQL before the first '{_NAME}' line")
            current.append(stripped)
    empty = [name for name, lines in queries.items() if not lines]
    if empty:
        raise ValueError(f"queries without SQL: {', '.join(empty)}")
    return MappingProxyType({name: " ".join(lines) for name, lines in queries.items()})


def load(filename: str) -> Mapping[str, str]:
    """The named queries of ``indexer/store/<filename>`` (shipped as package data)."""
    text = resources.files("indexer.store").joinpath(filename).read_text(encoding="utf-8")
    return parse(text)
