"""Numbered schema migrations, applied at start-up, idempotently, one process at a time.

Migrations are the ``NNNN_name.sql`` files beside this module plus procrastinate's own
schema (the job queue shares the database). A session-level advisory lock serialises
processes that start together; each migration runs in its own transaction and is
recorded in ``simcase_migrations``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg
from procrastinate.schema import SchemaManager
from psycopg.rows import scalar_row

from indexer.database import check_vector_extension, connect

__all__ = [
    "MIGRATION_LOCK_KEY",
    "Migration",
    "applied_migrations",
    "available_migrations",
    "migrate",
]

log = logging.getLogger(__name__)

#: Key of the advisory lock held while migrating (an arbitrary 64-bit constant).
MIGRATION_LOCK_KEY = 0x5153_4341_5345  # "SIMCASE"-ish

_NAME = re.compile(r"^(\d{4})_[a-z0-9_]+\.sql$")


@dataclass(frozen=True)
class Migration:
    """One schema step: a number, a name and how to apply it."""

    number: int
    name: str
    apply: Callable[[psycopg.Connection[Any]], None]


def _sql_migration(text: str) -> Callable[[psycopg.Connection[Any]], None]:
    def apply(conn: psycopg.Connection[Any]) -> None:
        conn.execute(text.encode())

    return apply


def _procrastinate_schema(conn: psycopg.Connection[Any]) -> None:
    with conn.cursor(row_factory=scalar_row) as cur:
        exists = cur.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()
    if exists:
        log.info("procrastinate schema already present; not re-applied")
        return
    conn.execute(SchemaManager.get_schema().encode())


def available_migrations() -> list[Migration]:
    """Every migration this version of simcase knows, in order."""
    found: list[Migration] = []
    for entry in resources.files("indexer.migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(
                Migration(int(match.group(1)), entry.name[:-4], _sql_migration(entry.read_text()))
            )
    found.append(Migration(2, "0002_procrastinate", _procrastinate_schema))
    found.sort(key=lambda m: m.number)
    numbers = [m.number for m in found]
    if len(numbers) != len(set(numbers)):
        raise RuntimeError(f"duplicate migration numbers: {numbers}")
    return found


def applied_migrations(conn: psycopg.Connection[Any]) -> list[int]:
    """Numbers of the migrations already applied to this database."""
    with conn.cursor(row_factory=scalar_row) as cur:
        if not cur.execute("SELECT to_regclass('simcase_migrations') IS NOT NULL").fetchone():
            return []
        numbers: list[int] = cur.execute(
            "SELECT number FROM simcase_migrations ORDER BY number"
        ).fetchall()
    return numbers


def migrate(conninfo: str) -> list[str]:
    """Bring the database's schema up to date; return the names of the steps applied."""
    applied: list[str] = []
    with connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        try:
            check_vector_extension(conn)
            conn.execute(
                "CREATE TABLE IF NOT EXISTS simcase_migrations ("
                " number integer PRIMARY KEY, name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = set(applied_migrations(conn))
            for migration in available_migrations():
                if migration.number in done:
                    continue
                with conn.transaction():
                    migration.apply(conn)
                    conn.execute(
                        "INSERT INTO simcase_migrations (number, name) VALUES (%s, %s)",
                        (migration.number, migration.name),
                    )
                log.info("applied migration %s", migration.name)
                applied.append(migration.name)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
    return applied
