"""``/metrics`` on a real database: the in-process instruments and the database gauges."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import psycopg
import pytest
from fastapi.testclient import TestClient
from pgvector import HalfVector
from pgvector.psycopg import register_vector
from prometheus_client.parser import text_string_to_metric_families

from indexer.intake import seconds_since_received
from indexer.jobs import seconds_since_deferred
from plugin.metrics import record_outcome
from plugin.settings import ApiSettings

pytestmark = pytest.mark.integration


@pytest.fixture
def client(open_api: Callable[..., TestClient]) -> TestClient:
    return open_api(ApiSettings(admin_token="t"))


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def seed(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        register_vector(conn)
        conn.execute(
            "INSERT INTO model_versions (model_version, dim, state) VALUES"
            " ('old', 4, 'active'), ('new', 4, 'building')"
        )
        for i in range(3):
            conn.execute(
                "INSERT INTO cases (case_id, diagnosis) VALUES (%s, 'glioma')", (f"C-{i}",)
            )
            for version in ("old", "new")[: 2 if i == 0 else 1]:
                conn.execute(
                    "INSERT INTO embeddings (case_id, model_version, embedding)"
                    " VALUES (%s, %s, %s)",
                    (f"C-{i}", version, HalfVector(np.ones(4, dtype=np.float32))),
                )
        job = conn.execute(
            "INSERT INTO procrastinate_jobs (queue_name, task_name, args)"
            " VALUES ('simcase', 'process_study', '{}') RETURNING id"
        ).fetchone()
        assert job is not None
        conn.execute(
            "INSERT INTO procrastinate_events (job_id, type, at)"
            " VALUES (%s, 'deferred', now() - interval '90 seconds')",
            (job[0],),
        )
        conn.execute(
            "INSERT INTO intake_studies (study_instance_uid, instances) VALUES ('1.2.3', 5)"
        )
        conn.execute(
            "INSERT INTO results (study_instance_uid, model_version, content_hash, state)"
            " VALUES ('1.2.3', 'old', 'h', 'sent')"
        )


def test_metrics_expose_queue_archive_models_and_process_counters(
    client: TestClient, database_url: str
) -> None:
    seed(database_url)
    record_outcome("sent", ["C-1"], {"load": 1.5, "segment": 1.0, "embed": 2.0, "search": 0.02})
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found = samples(response.text)
    assert (
        found[
            ("simcase_jobs", (("queue", "simcase"), ("status", "todo"), ("task", "process_study")))
        ]
        == 1
    )
    assert found[("simcase_job_queue_oldest_seconds", (("queue", "simcase"),))] >= 89
    assert found[("simcase_archive_cases", (("model_version", "old"), ("state", "active")))] == 3
    assert found[("simcase_archive_cases", (("model_version", "new"), ("state", "building")))] == 1
    assert found[("simcase_model_info", (("model_version", "old"), ("state", "active")))] == 1
    assert found[("simcase_cases", ())] == 3
    assert found[("simcase_intake_pending_studies", ())] == 1
    assert found[("simcase_results", (("state", "sent"),))] == 1
    assert found[("simcase_studies_processed_total", (("outcome", "answered"),))] >= 1
    assert found[("simcase_stage_seconds_count", (("stage", "segment"),))] >= 1
    assert found[("simcase_stage_seconds_count", (("stage", "embed"),))] >= 1
    for name in (
        "simcase_instances_received_total",
        "simcase_send_retries_total",
    ):
        assert (name, ()) in found, name


def test_latency_is_read_on_the_database_clock(database_url: str) -> None:
    seed(database_url)
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE intake_studies SET last_received_at = now() - interval '7 seconds'"
            " WHERE study_instance_uid = '1.2.3'"
        )
        received = seconds_since_received(conn, "1.2.3")
        job_id = conn.execute("SELECT max(id) FROM procrastinate_jobs").fetchone()
        assert job_id is not None
        deferred = seconds_since_deferred(conn, int(job_id[0]))
        assert seconds_since_received(conn, "9.9.9") is None  # not received by the listener
        assert seconds_since_deferred(conn, -1) is None
    assert received is not None and 7 <= received < 60
    assert deferred is not None and 90 <= deferred < 150
