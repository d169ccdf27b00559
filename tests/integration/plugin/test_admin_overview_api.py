"""The admin view's endpoints on a real database: model versions with case counts,
recent studies with their result state, "process again" and the audit log."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import psycopg
import pytest
from fastapi.testclient import TestClient
from pgvector import HalfVector
from pgvector.psycopg import register_vector

from plugin.settings import ApiSettings

pytestmark = pytest.mark.integration

TOKEN = "overview-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
RECEIVED = "1.2.826.0.1.3680043.8.498.101"
ANSWERED = "1.2.826.0.1.3680043.8.498.102"
UNKNOWN = "1.2.826.0.1.3680043.8.498.103"


@pytest.fixture
def client(open_api: Callable[..., TestClient]) -> TestClient:
    return open_api(ApiSettings(admin_token=TOKEN))


def _seed(url: str) -> None:
    with psycopg.connect(url) as conn:
        register_vector(conn)
        conn.execute(
            "INSERT INTO model_versions (model_version, dim, state) VALUES ('m1', 4, 'active'),"
            " ('m2', 4, 'building')"
        )
        for i in range(3):
            conn.execute("INSERT INTO cases (case_id, diagnosis) VALUES (%s, 'glioma')", (f"c{i}",))
            conn.execute(
                "INSERT INTO embeddings (case_id, model_version, embedding) VALUES (%s, 'm1', %s)",
                (f"c{i}", HalfVector(np.ones(4, dtype=np.float32))),
            )
        conn.execute(
            "INSERT INTO intake_studies (study_instance_uid, instances) VALUES (%s, 12)",
            (RECEIVED,),
        )
        for content in ("first", "after a late series"):
            conn.execute(
                "INSERT INTO results (study_instance_uid, model_version, content_hash, state)"
                " VALUES (%s, 'm1', %s, 'sent')",
                (ANSWERED, content),
            )


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/admin/models"),
        ("get", "/api/v1/admin/studies"),
        ("get", "/api/v1/admin/audit"),
        ("post", f"/api/v1/admin/studies/{RECEIVED}/process"),
    ],
)
def test_the_admin_view_needs_the_token(client: TestClient, method: str, path: str) -> None:
    assert getattr(client, method)(path).status_code == 401


def test_models_studies_process_again_and_audit(client: TestClient, database_url: str) -> None:
    _seed(database_url)
    models = {
        m["model_version"]: m for m in client.get("/api/v1/admin/models", headers=AUTH).json()
    }
    assert (models["m1"]["state"], models["m1"]["cases"]) == ("active", 3)
    assert (models["m2"]["state"], models["m2"]["cases"]) == ("building", 0)

    studies = {
        s["study_instance_uid"]: s for s in client.get("/api/v1/admin/studies", headers=AUTH).json()
    }
    assert studies[RECEIVED]["state"] == "received"
    assert studies[ANSWERED]["state"] == "answered"
    assert (studies[ANSWERED]["results"], studies[ANSWERED]["superseded"]) == (2, 1)

    queued = client.post(f"/api/v1/admin/studies/{RECEIVED}/process", headers=AUTH)
    assert queued.status_code == 202 and queued.json()["source"] == "spool"
    studies = {
        s["study_instance_uid"]: s for s in client.get("/api/v1/admin/studies", headers=AUTH).json()
    }
    assert studies[RECEIVED]["state"] == "processing"
    assert studies[RECEIVED]["job_id"] == queued.json()["job_id"]

    # Nothing to fetch it from (no spool, no DICOMweb), and not a UID at all.
    assert client.post(f"/api/v1/admin/studies/{UNKNOWN}/process", headers=AUTH).status_code == 409
    assert client.post("/api/v1/admin/studies/1.2.x/process", headers=AUTH).status_code == 422

    reindex = client.post("/api/v1/admin/reindex", headers=AUTH)
    assert reindex.status_code == 202
    audit = client.get("/api/v1/admin/audit", headers=AUTH).json()
    assert (audit[0]["actor"], audit[0]["action"]) == ("admin token", "reindex")
    assert audit[0]["details"] == {"job_id": reindex.json()["job_id"]}
    assert audit[1]["action"] == "process_again" and audit[1]["subject"] == RECEIVED
    assert audit[1]["details"]["source"] == "spool"
