"""Fixtures of the end-to-end tests: a demo archive, a query study, simcase processes."""

from __future__ import annotations

import contextlib
import csv
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest

from indexer.bulk import ImportSummary, discover, index_sources
from indexer.database import create_pool
from indexer.pipeline import load_models
from indexer.store import PgVectorStore
from models.synth import write_corpus
from tests.integration.conftest import (  # noqa: F401  (fixtures)
    database_url,
    pg_server,
    service_dir,
    template_db,
)

#: The models under test: the shipped weights unless SIMCASE_TEST_MODEL_DIR names others.
MODEL_DIR = (
    Path(os.environ["SIMCASE_TEST_MODEL_DIR"]) if os.environ.get("SIMCASE_TEST_MODEL_DIR") else None
)

ARCHIVE_SEED = 4242
QUERY_SEED = 9191


@dataclass(frozen=True)
class QueryStudy:
    dicom_dir: Path
    study_instance_uid: str
    diagnosis: str


@pytest.fixture(scope="session")
def e2e_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("e2e")


@pytest.fixture(scope="session")
def archive(e2e_root: Path) -> Path:
    out = e2e_root / "archive"
    write_corpus(out, 45, ARCHIVE_SEED, resolution_mm=2.0, workers=2)
    return out


@pytest.fixture(scope="session")
def query_study(e2e_root: Path) -> QueryStudy:
    out = e2e_root / "query"
    write_corpus(out, 1, QUERY_SEED, resolution_mm=2.0, dicom_dir=e2e_root / "query-dicom")
    with (out / "cases.csv").open() as f:
        row = next(csv.DictReader(f))
    case_dir = e2e_root / "query-dicom" / row["case_id"]
    import pydicom

    first = next(case_dir.rglob("*.dcm"))
    uid = str(pydicom.dcmread(first, stop_before_pixels=True).StudyInstanceUID)
    return QueryStudy(case_dir, uid, row["diagnosis"])


@pytest.fixture
def indexed_archive(archive: Path, database_url: str) -> str:  # noqa: F811
    """The database with the archive indexed by the shipped models."""
    pool = create_pool(database_url, max_size=2)
    try:
        summary = ImportSummary()
        index_sources(
            discover(archive, summary), PgVectorStore(pool), load_models(MODEL_DIR), summary=summary
        )
        assert summary.indexed == 45, summary.to_dict()
    finally:
        pool.close()
    return database_url


def simcase_env(url: str, data_dir: Path, **settings: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMCASE_")}
    env |= {"SIMCASE_DATABASE_URL": url, "SIMCASE_DATA_DIR": str(data_dir)}
    env |= {f"SIMCASE_{k.upper()}": v for k, v in settings.items()}
    env["PYTHONUNBUFFERED"] = "1"
    if MODEL_DIR is not None:
        env["SIMCASE_MODEL_DIR"] = str(MODEL_DIR)
    return env


@contextlib.contextmanager
def simcase_processes(
    commands: list[str], env: dict[str, str], logs: Path
) -> Iterator[list[subprocess.Popen[bytes]]]:
    """Start ``simcase <command>`` for each command; SIGINT them at the end."""
    logs.mkdir(parents=True, exist_ok=True)
    procs = []
    try:
        for command in commands:
            out = (logs / f"{command}.log").open("wb")
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "plugin.cli", command],
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            )
        time.sleep(0.5)
        for proc, command in zip(procs, commands, strict=True):
            assert proc.poll() is None, (logs / f"{command}.log").read_text()
        yield procs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGINT)
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()


def count(url: str, sql: str, *params: object) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(sql, params).fetchone()  # type: ignore[arg-type]
    return int(row[0]) if row else 0
