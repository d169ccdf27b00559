"""What the PHI-scan tests share: the sentinel patient data, the study that carries it,
a small indexed archive, and the scan for it in text.

``test_phi_logs.py`` (the push path) and ``test_phi_pull.py`` (Orthanc's change feed and
the DICOMweb pull) both import from here.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import httpx
import psycopg
import pydicom
import pydicom.config
import pytest

from indexer.bulk import ImportSummary, discover, index_sources
from indexer.database import create_pool
from indexer.pipeline import load_models
from indexer.store import PgVectorStore
from models.synth import write_corpus
from tests.e2e.conftest import MODEL_DIR, QueryStudy

__all__ = [
    "ADMIN",
    "ARCHIVE_CASES",
    "BIRTH_DATE",
    "PATIENT_ID",
    "PATIENT_NAME",
    "SECRETS",
    "TIMEOUT_S",
    "healthy",
    "job_states",
    "leaks",
    "phi_study",
    "scan",
    "small_archive",
    "wait_until",
]

PATIENT_NAME = "ZZPHI^SENTINEL"
PATIENT_ID = "PHI-ID-99173"
BIRTH_DATE = "19010203"
#: What must never appear (compared case-insensitively, whitespace removed: the console
#: handler wraps long lines): the name, its parts, the ID, the birth date as DICOM, ISO,
#: European and American dates.
SECRETS = (
    "ZZPHI^SENTINEL",
    "ZZPHI",
    "SENTINEL",
    "ZZPHI SENTINEL",
    "PHI-ID-99173",
    "PHI-ID",
    "19010203",
    "1901-02-03",
    "03.02.1901",
    "03/02/1901",
    "02/03/1901",
    "1901/02/03",
    "3 Feb 1901",
    "February 3, 1901",
)
ADMIN = "phi-scan-admin-token-0123456789"
ARCHIVE_CASES = 6
TIMEOUT_S = 240.0


def wait_until(predicate: Callable[[], object], timeout: float, what: str, logs: Path) -> None:
    """Poll ``predicate`` until it is true; on timeout fail with the processes' logs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    dump = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(logs.glob("*.log")))
    raise AssertionError(f"timed out waiting for {what}\n{dump}")


@pytest.fixture
def small_archive(e2e_root: Path, database_url: str) -> str:
    """The database with a 6-case synthetic archive indexed by the models under test."""
    out = e2e_root / "phi-archive"
    if not (out / "cases.csv").exists():
        write_corpus(out, ARCHIVE_CASES, 5151, resolution_mm=2.0, workers=2)
    pool = create_pool(database_url, max_size=2)
    try:
        summary = ImportSummary()
        index_sources(
            discover(out, summary), PgVectorStore(pool), load_models(MODEL_DIR), summary=summary
        )
        assert summary.indexed == ARCHIVE_CASES, summary.to_dict()
    finally:
        pool.close()
    return database_url


def phi_study(query: QueryStudy, out: Path) -> list[Path]:
    """The query study with the sentinel patient data in every instance; every third
    carries the birth date in ISO form (``1901-02-03``), as some senders do, which the
    worker repairs."""
    paths = []
    for i, source in enumerate(sorted(query.dicom_dir.rglob("*.dcm"))):
        ds = pydicom.dcmread(source)
        ds.PatientName = PATIENT_NAME
        ds.PatientID = PATIENT_ID
        ds.OtherPatientNames = PATIENT_NAME
        with pydicom.config.disable_value_validation():
            ds.PatientBirthDate = "1901-02-03" if i % 3 == 0 else BIRTH_DATE
        path = out / f"{i:05d}.dcm"
        out.mkdir(parents=True, exist_ok=True)
        ds.save_as(path)
        paths.append(path)
    return paths


def job_states(url: str, study_uid: str) -> list[str]:
    """The states of the study's ``process_study`` jobs, oldest first."""
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT status::text FROM procrastinate_jobs WHERE task_name LIKE %s"
            " AND args->>'study_instance_uid' = %s ORDER BY id",
            ("%process_study%", study_uid),
        ).fetchall()
    return [r[0] for r in rows]


def healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def leaks(text: str) -> list[str]:
    """The secrets found in ``text`` (whitespace removed, case ignored)."""
    flat = re.sub(r"\s+", "", text).lower()
    return [s for s in SECRETS if re.sub(r"\s+", "", s).lower() in flat]


def scan(logs: Path, texts: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """The secrets found in every ``*.log`` under ``logs`` (each must be non-empty) and in
    each named text, by name; empty when none."""
    found: dict[str, list[str]] = {}
    for log in sorted(logs.glob("*.log")):
        text = log.read_text(errors="replace")
        assert text.strip(), f"{log.name} is empty"
        found |= {log.name: hits} if (hits := leaks(text)) else {}
    for name, body in texts:
        found |= {name: hits} if (hits := leaks(body)) else {}
    return found
