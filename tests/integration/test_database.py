"""Migrations, the job queue and pgvector on a real PostgreSQL."""

from __future__ import annotations

import multiprocessing
from typing import Any

import numpy as np
import psycopg
import pytest
from pgvector import HalfVector
from pgvector.psycopg import register_vector

from indexer.errors import MissingExtensionError
from indexer.job_status import get_job
from indexer.jobs import JOB_QUEUE, JobResources, create_job_app, task_name
from indexer.migrate import available_migrations, migrate
from indexer.tasks import INDEXER_TASKS

pytestmark = pytest.mark.integration


def test_migrations_apply_once_then_are_a_no_op(empty_database_url: str) -> None:
    first = migrate(empty_database_url)
    assert first == [m.name for m in available_migrations()]
    assert migrate(empty_database_url) == []
    with psycopg.connect(empty_database_url) as conn:
        numbers = [r[0] for r in conn.execute("SELECT number FROM simcase_migrations ORDER BY 1")]
        assert numbers == [m.number for m in available_migrations()]
        assert conn.execute("SELECT to_regclass('procrastinate_jobs')").fetchone() == (
            "procrastinate_jobs",
        )


def _migrate_in_child(url: str, queue: Any) -> None:
    try:
        queue.put(("ok", migrate(url)))
    except Exception as exc:  # report, do not hide
        queue.put(("error", repr(exc)))


def test_two_processes_migrating_at_once(empty_database_url: str) -> None:
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    children = [
        ctx.Process(target=_migrate_in_child, args=(empty_database_url, queue)) for _ in range(2)
    ]
    for child in children:
        child.start()
    results = [queue.get(timeout=120) for _ in children]
    for child in children:
        child.join(timeout=60)
        assert child.exitcode == 0
    assert all(kind == "ok" for kind, _ in results), results
    applied = sorted((steps for _, steps in results), key=len)
    assert applied[0] == []  # the second process found everything done
    assert applied[1] == [m.name for m in available_migrations()]


def test_missing_pgvector_is_named(
    monkeypatch: pytest.MonkeyPatch, empty_database_url: str
) -> None:
    import indexer.database as database

    real = database.check_vector_extension

    def pretend_absent(conn: psycopg.Connection[Any]) -> None:
        conn.execute("SELECT 1")
        raise MissingExtensionError(
            "the PostgreSQL server has no pgvector extension: install pgvector on the server"
        )

    monkeypatch.setattr("indexer.migrate.check_vector_extension", pretend_absent)
    with pytest.raises(MissingExtensionError, match="pgvector"):
        migrate(empty_database_url)
    monkeypatch.setattr("indexer.migrate.check_vector_extension", real)


def _insert_case(conn: psycopg.Connection[Any], case_id: str, dim: int = 8) -> None:
    register_vector(conn)
    conn.execute(
        "INSERT INTO model_versions (model_version, dim, state) VALUES ('t1', %s, 'active')"
        " ON CONFLICT DO NOTHING",
        (dim,),
    )
    conn.execute(
        "INSERT INTO cases (case_id, patient_id, diagnosis) VALUES (%s, 'P-secret', 'glioma')",
        (case_id,),
    )
    conn.execute(
        "INSERT INTO embeddings (case_id, model_version, embedding) VALUES (%s, 't1', %s)",
        (case_id, HalfVector(np.ones(dim, dtype=np.float32))),
    )


def test_job_enqueued_and_executed_by_a_worker(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        _insert_case(conn, "case-1")
    app = create_job_app(database_url, tasks=INDEXER_TASKS)
    with app.open():
        job_id = app.configure_task(task_name("delete_case")).defer(case_id="case-1", actor="test")
        app.run_worker(
            queues=[JOB_QUEUE],
            wait=False,
            install_signal_handlers=False,
            additional_context={"resources": JobResources(conninfo=database_url)},
        )
    with psycopg.connect(database_url) as conn:
        assert conn.execute("SELECT count(*) FROM cases").fetchone() == (0,)
        assert conn.execute("SELECT count(*) FROM embeddings").fetchone() == (0,)
        row = conn.execute("SELECT actor, action, subject, details FROM audit_log").fetchone()
        assert row == ("test", "delete_case", "case-1", {"vectors_removed": 1})
        status = get_job(conn, job_id)
        assert status is not None
        assert (status.task, status.state, status.errors) == ("delete_case", "succeeded", [])


def test_failed_job_keeps_its_error(database_url: str) -> None:
    app = create_job_app(database_url, tasks=INDEXER_TASKS)
    resources = JobResources(conninfo=database_url)
    with app.open():
        job_id = app.configure_task(task_name("delete_case")).defer(case_id="nope", actor="test")
        app.run_worker(
            queues=[JOB_QUEUE],
            wait=False,
            install_signal_handlers=False,
            additional_context={"resources": resources},
        )
    with psycopg.connect(database_url) as conn:
        status = get_job(conn, job_id)
    assert status is not None
    assert status.state == "failed"
    assert status.errors == ["CaseNotFoundError: no archive case 'nope'"]


def test_vector_round_trip_with_hnsw_index(database_url: str) -> None:
    rng = np.random.default_rng(0)
    vectors = rng.standard_normal((200, 16)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    with psycopg.connect(database_url) as conn:
        register_vector(conn)
        conn.execute("INSERT INTO model_versions (model_version, dim) VALUES ('v', 16)")
        with conn.cursor() as cur:
            for i, v in enumerate(vectors):
                cur.execute(
                    "INSERT INTO cases (case_id, diagnosis) VALUES (%s, 'glioma')", (f"c{i}",)
                )
                cur.execute(
                    "INSERT INTO embeddings (case_id, model_version, embedding)"
                    " VALUES (%s, 'v', %s)",
                    (f"c{i}", HalfVector(v)),
                )
        conn.execute(
            "CREATE INDEX emb_v ON embeddings USING hnsw"
            " ((embedding::halfvec(16)) halfvec_cosine_ops) WHERE model_version = 'v'"
        )
        conn.execute("SET enable_seqscan = off")
        query = HalfVector(vectors[17])
        plan = "\n".join(
            r[0]
            for r in conn.execute(
                "EXPLAIN SELECT case_id FROM embeddings WHERE model_version = 'v'"
                " ORDER BY embedding::halfvec(16) <=> %s LIMIT 5",
                (query,),
            )
        )
        assert "emb_v" in plan
        rows = conn.execute(
            "SELECT case_id, embedding, 1 - (embedding::halfvec(16) <=> %s) FROM embeddings"
            " WHERE model_version = 'v' ORDER BY embedding::halfvec(16) <=> %s LIMIT 5",
            (query, query),
        ).fetchall()
    assert rows[0][0] == "c17"
    assert rows[0][2] == pytest.approx(1.0, abs=1e-3)
    np.testing.assert_allclose(rows[0][1].to_numpy(), vectors[17], atol=1e-3)
