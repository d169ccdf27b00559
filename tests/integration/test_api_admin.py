"""The REST API's health and admin endpoints on a real database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import psycopg
import pytest
from fastapi.testclient import TestClient
from pgvector import HalfVector
from pgvector.psycopg import register_vector

from plugin.settings import ApiSettings
from tests.integration.api_client import api_test_client

pytestmark = pytest.mark.integration

TOKEN = "test-token"


@pytest.fixture
def client(open_api: Callable[..., TestClient]) -> TestClient:
    return open_api(ApiSettings(admin_token=TOKEN))


def _seed(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        register_vector(conn)
        conn.execute("INSERT INTO model_versions (model_version, dim) VALUES ('m', 4)")
        conn.execute(
            "INSERT INTO cases (case_id, patient_id, diagnosis, age, sex)"
            " VALUES ('BraTS-1', 'PATIENT-NAME-ID', 'meningioma', 61, 'F')"
        )
        conn.execute(
            "INSERT INTO embeddings (case_id, model_version, embedding)"
            " VALUES ('BraTS-1', 'm', %s)",
            (HalfVector(np.ones(4, dtype=np.float32)),),
        )


def test_health(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}
    assert client.get("/metrics").status_code == 200


@pytest.mark.parametrize(
    "path", ["/api/v1/admin/jobs", "/api/v1/admin/cases", "/api/v1/admin/cases/x"]
)
def test_admin_needs_the_token(client: TestClient, path: str) -> None:
    assert client.get(path).status_code == 401
    assert client.get(path, headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_case_admin_and_erasure(client: TestClient, database_url: str) -> None:
    _seed(database_url)
    auth = {"Authorization": f"Bearer {TOKEN}"}
    listed = client.get("/api/v1/admin/cases", headers=auth).json()
    assert [c["case_id"] for c in listed] == ["BraTS-1"]
    assert "PATIENT-NAME-ID" not in client.get("/api/v1/admin/cases/BraTS-1", headers=auth).text
    response = client.delete("/api/v1/admin/cases/BraTS-1", headers=auth)
    assert response.status_code == 200
    assert response.json() == {"case_id": "BraTS-1", "deleted": True, "vectors_removed": 1}
    assert client.get("/api/v1/admin/cases/BraTS-1", headers=auth).status_code == 404
    assert client.delete("/api/v1/admin/cases/BraTS-1", headers=auth).status_code == 404
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM embeddings").fetchone() == (0,)
        assert conn.execute("SELECT actor, action, subject FROM audit_log").fetchall() == [
            ("admin token", "delete_case", "BraTS-1")
        ]


def _actors(database_url: str) -> list[tuple[str, str]]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute("SELECT actor, action FROM audit_log ORDER BY id").fetchall()
    return [(r[0], r[1]) for r in rows]


@pytest.mark.parametrize(
    ("header", "sent", "admin", "search"),
    [
        # Not configured: a header a client sends is never read.
        (None, {"X-Forwarded-User": "mallory"}, "admin token", "anonymous (loopback)"),
        # Configured and set by the proxy: the person.
        ("X-Forwarded-User", {"X-Forwarded-User": " dr.alice\t"}, "dr.alice", "dr.alice"),
        # Configured, but this request came without it (or empty).
        ("X-Forwarded-User", {"X-Forwarded-User": ""}, "admin token", "anonymous (loopback)"),
        ("Remote-User", {"Remote-User": "b" * 300}, "b" * 128, "b" * 128),
    ],
)
def test_audit_names_the_person_only_through_the_trusted_header(
    database_url: str,
    tmp_path: Path,
    header: str | None,
    sent: dict[str, str],
    admin: str,
    search: str,
) -> None:
    _seed(database_url)
    api = ApiSettings(admin_token=TOKEN, trusted_user_header=header)
    auth = {"Authorization": f"Bearer {TOKEN}", **sent}
    with api_test_client(database_url, tmp_path, api, client=("127.0.0.1", 5000)) as client:
        assert client.post("/api/v1/admin/reindex", headers=auth, json={}).status_code == 202
        assert client.delete("/api/v1/admin/cases/BraTS-1", headers=auth).status_code == 200
        # A named person without the token is still refused, and nothing is audited.
        assert client.delete("/api/v1/admin/cases/BraTS-1", headers=sent).status_code == 401
    assert _actors(database_url) == [(admin, "reindex"), (admin, "delete_case")]
