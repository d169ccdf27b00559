"""The archive end to end on real components: synthetic BraTS-layout cases, real ONNX
models (seeded, untrained: the shipped weights are not what is under test here), the
embedded PostgreSQL + pgvector, procrastinate workers, the CLI and the REST API."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
import pytest
from psycopg_pool import ConnectionPool

from dicom_conversion import read_brats_case
from indexer.bulk import ImportSummary, discover, index_sources
from indexer.job_status import get_job
from indexer.jobs import JobResources, create_job_app, enqueue_reindex
from indexer.pipeline import ModelSet, load_models
from indexer.search_service import SearchRequest, search_study
from indexer.store import PgVectorStore
from indexer.tasks import INDEXER_TASKS
from indexer.worker import run_queued_jobs
from models.synth import write_corpus
from plugin.settings import ApiSettings
from tests.helpers.model_dirs import untrained_model_dir
from tests.integration.api_client import api_test_client

pytestmark = pytest.mark.integration

TOKEN = "pipeline-token"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("corpus") / "archive"
    write_corpus(out, 30, seed=7, resolution_mm=3.0, workers=2)
    return out


@pytest.fixture(scope="module")
def model_dirs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("models")
    return untrained_model_dir(base / "v1", seed=1), untrained_model_dir(base / "v2", seed=2)


def _rows(corpus: Path) -> list[dict[str, str]]:
    with (corpus / "cases.csv").open() as f:
        return list(csv.DictReader(f))


def _indexed(corpus: Path, store: PgVectorStore, models: ModelSet) -> ImportSummary:
    summary = ImportSummary()
    return index_sources(discover(corpus, summary), store, models, summary=summary)


def test_bulk_import_is_resumable_and_search_excludes_the_patient(
    corpus: Path, model_dirs: tuple[Path, Path], pool: ConnectionPool[Any]
) -> None:
    store = PgVectorStore(pool)
    models = load_models(model_dirs[0])
    first = _indexed(corpus, store, models)
    assert (first.indexed, first.already_indexed, first.failed) == (30, 0, [])
    again = _indexed(corpus, store, models)
    assert (again.indexed, again.already_indexed) == (0, 30)
    with pool.connection() as conn:  # the archive map was fitted and stored at index time
        mapped = conn.execute(
            "SELECT m.model_version, m.fitted_cases, count(p.case_id) FROM archive_maps m"
            " JOIN archive_map_points p USING (model_version) GROUP BY 1, 2"
        ).fetchall()
    assert mapped == [(models.model_version, 30, 30)]
    assert store.active_model_version() == models.model_version

    rows = _rows(corpus)
    patients: dict[str, list[str]] = {}
    for row in rows:
        patients.setdefault(row["patient_id"], []).append(row["case_id"])
    repeat = next(ids for ids in patients.values() if len(ids) > 1)
    patient = next(r["patient_id"] for r in rows if r["case_id"] == repeat[0])
    study = read_brats_case(corpus / repeat[0])

    result = search_study(
        study, store, models, SearchRequest(k=29, per_diagnosis=2, exclude_patient=patient)
    )
    returned = {h["case_id"] for h in result["results"]}
    assert not returned & set(repeat)
    assert len(result["results"]) == 30 - len(repeat)
    assert sorted(result["per_diagnosis"]) == ["glioma", "meningioma", "metastasis"]
    assert all(len(v) == 2 for v in result["per_diagnosis"].values())
    assert result["model_version"] == models.model_version
    assert result["query"]["mask_source"] == "given"
    assert result["query"]["sequences"] == ["T1", "T1C", "T2", "FLAIR"]
    # Without exclusion, the query's own case comes back with similarity ~1, the highest.
    everything = search_study(study, store, models, SearchRequest(k=30))["results"]
    own = next(h for h in everything if h["case_id"] == repeat[0])
    assert own["similarity"] == pytest.approx(1.0, abs=2e-3)
    assert own["similarity"] >= everything[0]["similarity"] - 1e-3
    assert store.thumbnails([repeat[0]])[repeat[0]].startswith(b"\x89PNG")
    assert store.outlines([repeat[0]])[repeat[0]].startswith(b"\x89PNG")  # kept beside it


def test_a_broken_case_is_reported_and_skipped(
    corpus: Path, model_dirs: tuple[Path, Path], pool: ConnectionPool[Any], tmp_path: Path
) -> None:
    copy = tmp_path / "archive"
    shutil.copytree(corpus, copy)
    victim = _rows(corpus)[4]["case_id"]
    (copy / victim / f"{victim}-t1c.nii.gz").write_bytes(b"not a nifti file")
    summary = _indexed(copy, PgVectorStore(pool), load_models(model_dirs[0]))
    assert summary.indexed == 29
    assert [c for c, _ in summary.failed] == [victim]


def test_reindex_switches_model_without_a_failed_search(
    corpus: Path, model_dirs: tuple[Path, Path], pool: ConnectionPool[Any], database_url: str
) -> None:
    store = PgVectorStore(pool)
    v1, v2 = load_models(model_dirs[0]), load_models(model_dirs[1])
    _indexed(corpus, store, v1)
    query = np.random.default_rng(0).standard_normal(v1.embedder.dim).astype(np.float32)

    failures: list[str] = []
    seen: set[str] = set()
    stop = threading.Event()

    def searching() -> None:
        while not stop.is_set():
            try:
                result = store.search(query, k=5)
                seen.add(result.model_version)
                if len(result.hits) != 5:
                    failures.append(f"{len(result.hits)} hits")
            except Exception as exc:
                failures.append(repr(exc))

    thread = threading.Thread(target=searching)
    thread.start()
    try:
        jobs = create_job_app(database_url, tasks=INDEXER_TASKS)
        with jobs.open():
            job_id = enqueue_reindex(jobs, database_url)
            assert enqueue_reindex(jobs, database_url) == job_id  # queued once
        run_queued_jobs(JobResources(conninfo=database_url, model_dir=model_dirs[1]), INDEXER_TASKS)
    finally:
        stop.set()
        thread.join()
    assert not failures, failures[:3]
    assert seen == {v1.model_version, v2.model_version}
    assert store.active_model_version() == v2.model_version
    with psycopg.connect(database_url) as conn:
        status = get_job(conn, job_id)
        left = conn.execute(
            "SELECT count(*) FROM embeddings WHERE model_version = %s", (v1.model_version,)
        ).fetchone()
    assert status is not None
    assert (status.state, status.done, status.total, status.errors) == ("succeeded", 30, 30, [])
    assert left == (0,)
    with psycopg.connect(database_url) as conn:  # the new version's map, the old one gone
        maps = conn.execute(
            "SELECT model_version, (SELECT count(*) FROM archive_map_points p"
            " WHERE p.model_version = m.model_version) FROM archive_maps m"
        ).fetchall()
    assert maps == [(v2.model_version, 30)]


def _reindex(database_url: str, model_dir: Path) -> int:
    jobs = create_job_app(database_url, tasks=INDEXER_TASKS)
    with jobs.open():
        job_id = enqueue_reindex(jobs, database_url)
    run_queued_jobs(JobResources(conninfo=database_url, model_dir=model_dir), INDEXER_TASKS)
    return job_id


def test_reindex_fills_the_outlines_of_an_older_archive(
    corpus: Path, model_dirs: tuple[Path, Path], pool: ConnectionPool[Any], database_url: str
) -> None:
    store = PgVectorStore(pool)
    _indexed(corpus, store, load_models(model_dirs[0]))
    case_ids = [r["case_id"] for r in _rows(corpus)]
    kept = store.outlines(case_ids)
    assert len(kept) == 30
    with pool.connection() as conn:  # an archive indexed before outlines were kept
        conn.execute("UPDATE cases SET thumbnail_outline = NULL")
    assert store.outlines(case_ids) == {}

    # The reindex to a new model version re-embeds every case and keeps each outline
    # (the cases' own masks: the same drawing as at index time).
    job_id = _reindex(database_url, model_dirs[1])
    assert store.outlines(case_ids) == kept
    with psycopg.connect(database_url) as conn:
        status = get_job(conn, job_id)
    assert status is not None
    assert (status.state, status.done, status.total, status.errors) == ("succeeded", 30, 30, [])

    # Already on that version: a reindex embeds nothing and draws the missing outlines
    # from the cases' sources; one whose images have gone is a job error, not a failure.
    gone = case_ids[4]
    with pool.connection() as conn:
        conn.execute(
            "UPDATE cases SET thumbnail_outline = NULL WHERE case_id = ANY(%s)", (case_ids[:5],)
        )
        conn.execute(
            "UPDATE cases SET source_uri = %s WHERE case_id = %s", (str(corpus / "moved"), gone)
        )
    job_id = _reindex(database_url, model_dirs[1])
    assert store.outlines(case_ids) == {c: o for c, o in kept.items() if c != gone}
    with psycopg.connect(database_url) as conn:
        status = get_job(conn, job_id)
    assert status is not None
    assert (status.state, status.done, status.total) == ("succeeded", 5, 5)
    assert len(status.errors) == 1 and status.errors[0].startswith(f"{gone}: ")


def _cli(args: list[str], database_url: str, model_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMCASE_")}
    env |= {"SIMCASE_DATABASE_URL": database_url, "SIMCASE_MODEL_DIR": str(model_dir)}
    return subprocess.run(
        [sys.executable, "-m", "plugin.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_cli_index_search_reindex(
    corpus: Path, model_dirs: tuple[Path, Path], database_url: str
) -> None:
    indexed = _cli(["index", str(corpus), "--json"], database_url, model_dirs[0])
    assert indexed.returncode == 0, indexed.stderr
    assert json.loads(indexed.stdout)["indexed"] == 30
    case = _rows(corpus)[0]["case_id"]
    found = _cli(
        ["search", str(corpus / case), "--k", "3", "--per-diagnosis", "1", "--json"],
        database_url,
        model_dirs[0],
    )
    assert found.returncode == 0, found.stderr
    result = json.loads(found.stdout)
    assert set(result) >= {"model_version", "query", "results", "per_diagnosis"}
    assert [r["rank"] for r in result["results"]] == [1, 2, 3]
    assert set(result["results"][0]) >= {"rank", "case_id", "diagnosis", "similarity"}
    assert set(result["query"]["map_point"]) == {"x", "y"}  # placed on the archive map
    reindexed = _cli(["reindex"], database_url, model_dirs[1])
    assert reindexed.returncode == 0, reindexed.stderr
    assert json.loads(reindexed.stdout)["state"] == "succeeded"


def test_api_search_upload_and_admin_reindex(
    corpus: Path,
    model_dirs: tuple[Path, Path],
    pool: ConnectionPool[Any],
    database_url: str,
    tmp_path: Path,
) -> None:
    _indexed(corpus, PgVectorStore(pool), load_models(model_dirs[0]))
    api = ApiSettings(admin_token=TOKEN)
    case = _rows(corpus)[1]["case_id"]
    files = [
        ("files", (p.name, p.read_bytes(), "application/gzip"))
        for p in sorted((corpus / case).glob("*.nii.gz"))
    ]
    with api_test_client(database_url, tmp_path, api, model_dir=model_dirs[0]) as client:
        response = client.post("/api/v1/search?k=30&per_diagnosis=1", files=files)
        assert response.status_code == 200, response.text
        body = response.json()
        assert len(body["results"]) == 30
        own = next(h for h in body["results"] if h["case_id"] == case)
        assert own["similarity"] == pytest.approx(1.0, abs=2e-3)
        assert all(h["thumbnail"].startswith("data:image/png;base64,") for h in body["results"])
        # The query's place on the archive map, computed on the server with the stored
        # projection: the uploaded archive case lands on its own point (its vector up to
        # the halfvec rounding of the stored one).
        points = client.get("/api/v1/map").json()["points"]
        place = body["query"]["map_point"]
        nearest = min(points, key=lambda p: np.hypot(p["x"] - place["x"], p["y"] - place["y"]))
        assert nearest["case_id"] == case
        schema = client.get("/openapi.json").json()["components"]["schemas"]
        assert "map_point" in schema["SearchQuery"]["properties"]
        assert "embedding" not in body["query"]  # the page no longer projects it
        assert "viewer_url" not in body["results"][0]  # the schema adds no unset field
        assert sorted(body["per_diagnosis"]) == ["glioma", "meningioma", "metastasis"]
        assert "Not for diagnostic use" in body["notice"]
        bad = client.post(
            "/api/v1/search", files=[("files", ("x.dcm", b"junk", "application/dicom"))]
        )
        assert bad.status_code == 422
        assert client.post("/api/v1/admin/reindex").status_code == 401
        auth = {"Authorization": f"Bearer {TOKEN}"}
        queued = client.post("/api/v1/admin/reindex", headers=auth, json={})
        assert queued.status_code == 202
        job_id = queued.json()["job_id"]
        job = client.get(f"/api/v1/admin/jobs/{job_id}", headers=auth).json()
        assert job["state"] == "queued"
        assert client.get("/").status_code == 200
