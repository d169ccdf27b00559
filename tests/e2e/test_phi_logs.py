"""No patient name, ID or birth date in any log line, job error or admin answer.

A study whose every instance carries a distinctive patient name, ID and birth date goes
through the real path: ``simcase send`` -> ``simcase listen`` (a subprocess) ->
``process_study`` in ``simcase worker`` (a subprocess, the shipped models, a small
indexed archive) -> results by C-STORE to a PACS that refuses them at first (so the job
fails and records its error) and accepts them once the study is processed again through
the admin API of ``simcase api`` (a subprocess). One more instance with the same patient
data and Rows=0 is refused at the door (0xC210); every third instance has the birth date
in ISO form (repaired by the worker). The study is also uploaded to the API's search
(with the search token). Every process runs with ``--verbose`` (DEBUG). Then every line
of every process's output, every job error, the search answer, and the admin API's jobs,
studies and audit listings are scanned for the name, its parts, the ID and the birth
date in the usual spellings.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import psycopg
import pydicom
import pydicom.config
import pytest
from pydicom import Dataset
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
from pynetdicom.sop_class import MRImageStorage  # type: ignore[attr-defined]

from indexer.bulk import ImportSummary, discover, index_sources
from indexer.database import create_pool
from indexer.pipeline import load_models
from indexer.store import PgVectorStore
from models.synth import write_corpus
from tests.conftest import free_port
from tests.e2e.conftest import (
    MODEL_DIR,
    QueryStudy,
    simcase_env,
    simcase_processes,
    wait_for_log,
)

pytestmark = pytest.mark.e2e

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
SEARCH = "phi-scan-search-token-0123456789"
ARCHIVE_CASES = 6
TIMEOUT_S = 240.0


def _wait(predicate: Callable[[], object], timeout: float, what: str, logs: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    dump = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in sorted(logs.glob("*.log")))
    raise AssertionError(f"timed out waiting for {what}\n{dump}")


class RefusingPacs:
    """A storage SCP that answers 0xA700 (out of resources) while ``refuse`` is set and
    keeps what it accepts."""

    def __init__(self) -> None:
        self.refuse = threading.Event()
        self.refuse.set()
        self.received: list[Dataset] = []
        ae = AE(ae_title="PACS")
        for context in AllStoragePresentationContexts:
            if context.abstract_syntax is not None:
                ae.add_supported_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES)
        self.server = ae.start_server(
            ("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_C_STORE, self._store)]
        )
        self.port = int(self.server.server_address[1])

    def _store(self, event: evt.Event) -> int:
        if self.refuse.is_set():
            return 0xA700
        self.received.append(event.dataset)
        return 0x0000

    def close(self) -> None:
        self.server.shutdown()


@pytest.fixture
def small_archive(e2e_root: Path, database_url: str) -> str:
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


def _phi_study(query: QueryStudy, out: Path) -> list[Path]:
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


def _send_unusable_instance(port: int, template: Path) -> int:
    """One more instance of the study, same patient data, Rows=0: refused at the door."""
    ds = pydicom.dcmread(template)
    ds.SOPInstanceUID = pydicom.uid.generate_uid()
    ds.Rows = 0
    ae = AE(ae_title="PHISCU")
    ae.add_requested_context(MRImageStorage, [str(ds.file_meta.TransferSyntaxUID)])
    assoc = ae.associate("127.0.0.1", port, ae_title="SIMCASE")
    assert assoc.is_established
    try:
        return int(assoc.send_c_store(ds).Status)
    finally:
        assoc.release()


def _job_state(url: str, study_uid: str) -> list[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT status::text FROM procrastinate_jobs WHERE task_name LIKE %s"
            " AND args->>'study_instance_uid' = %s ORDER BY id",
            ("%process_study%", study_uid),
        ).fetchall()
    return [r[0] for r in rows]


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def _leaks(text: str) -> list[str]:
    flat = re.sub(r"\s+", "", text).lower()
    return [s for s in SECRETS if re.sub(r"\s+", "", s).lower() in flat]


@pytest.fixture
def services(
    small_archive: str, tmp_path: Path
) -> Iterator[tuple[str, Path, int, RefusingPacs, str]]:
    """``simcase listen``, ``worker`` and ``api`` (with a search token), each with
    ``--verbose``, on one database and data directory; the refusing PACS as destination."""
    pacs = RefusingPacs()
    port = free_port()
    api_port = free_port()
    logs = tmp_path / "logs"
    logs.mkdir()
    env = simcase_env(
        small_archive,
        tmp_path / "data",
        dicom__host="127.0.0.1",
        dicom__port=str(port),
        dicom__debounce_seconds="1",
        results__ae_title="PACS",
        results__host="127.0.0.1",
        results__port=str(pacs.port),
        api__port=str(api_port),
        api__admin_token=ADMIN,
        api__search_token=SEARCH,
    )
    base = f"http://127.0.0.1:{api_port}"
    try:
        with simcase_processes(["listen", "worker", "api"], env, logs, verbose=True):
            wait_for_log(logs / "listen.log", "DICOM listener SIMCASE on")
            wait_for_log(logs / "worker.log", "worker started")
            _wait(lambda: _healthy(base), 120, "the API to answer", logs)
            yield small_archive, logs, port, pacs, base
    finally:
        pacs.close()


def test_no_patient_data_in_any_log_job_error_or_admin_answer(
    services: tuple[str, Path, int, RefusingPacs, str], query_study: QueryStudy, tmp_path: Path
) -> None:
    url, logs, port, pacs, base = services
    study_uid = query_study.study_instance_uid
    files = _phi_study(query_study, tmp_path / "phi-study")
    # The real sender: ``simcase send`` (its output is scanned too).
    sent = subprocess.run(
        [
            sys.executable,
            "-m",
            "plugin.cli",
            "--verbose",
            "send",
            str(files[0].parent),
            "--port",
            str(port),
            "--aet",
            "PHISCU",
        ],
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
        capture_output=True,
        timeout=120,
    )
    (logs / "send.log").write_bytes(sent.stdout + sent.stderr)
    assert sent.returncode == 0, (sent.stdout + sent.stderr).decode(errors="replace")[-3000:]
    # an MR image of the study as the template (the folder also holds the truth SEG)
    template = next(
        p
        for p in files
        if pydicom.dcmread(p, stop_before_pixels=True).SOPClassUID == MRImageStorage
    )
    assert _send_unusable_instance(port, template) == 0xC210

    # The PACS refuses the results: the attempt fails with a readable error, kept for the
    # admin API, and the job waits for its retry (plugin.jobs.PROCESS_STUDY_RETRY).
    auth = {"Authorization": f"Bearer {ADMIN}"}
    with httpx.Client(base_url=base, timeout=120) as api:

        def refused() -> bool:
            listed = api.get("/api/v1/admin/jobs?limit=1000", headers=auth).json()
            return any("SendError" in e for j in listed for e in j["errors"])

        _wait(refused, TIMEOUT_S, "a failed attempt of the job", logs)
        jobs = api.get("/api/v1/admin/jobs?limit=1000", headers=auth).json()
        errors = [e for j in jobs for e in j["errors"]]
        assert any("SendError" in e for e in errors), jobs

        # Processed again from the spool through the admin API, the PACS accepting now.
        pacs.refuse.clear()
        again = api.post(f"/api/v1/admin/studies/{study_uid}/process", headers=auth)
        assert again.status_code == 202, again.text
        _wait(
            lambda: _job_state(url, study_uid)[-1:] == ["succeeded"],
            TIMEOUT_S,
            "the job processed again to succeed",
            logs,
        )
        assert pacs.received, "no result reached the PACS"
        # The same study uploaded to the search API (its own patient left out).
        upload = [("files", (p.name, p.read_bytes())) for p in files]
        assert api.post("/api/v1/search", files=upload).status_code == 401
        searched = api.post(
            "/api/v1/search?images=true",
            files=upload,
            headers={"Authorization": f"Bearer {SEARCH}"},
        )
        assert searched.status_code == 200, searched.text
        assert searched.json()["query"]["patient_excluded"] is True
        answers = {
            path: api.get(path, headers=auth).text
            for path in (
                "/api/v1/admin/jobs?limit=1000",
                "/api/v1/admin/studies?limit=1000",
                "/api/v1/admin/audit?limit=1000",
                *(f"/api/v1/admin/jobs/{j['job_id']}" for j in jobs),
            )
        }
        answers["POST /api/v1/search"] = searched.text
    # Every job error as stored, beside what the API shows.
    with psycopg.connect(url) as conn:
        stored = [r[0] for r in conn.execute("SELECT error FROM job_errors").fetchall()]
        events = conn.execute("SELECT args::text FROM procrastinate_jobs").fetchall()
    assert stored

    # The scan finds the patient data where it is: in the instances themselves.
    assert {"ZZPHI^SENTINEL", "PHI-ID-99173", "1901-02-03"} <= set(
        _leaks(str(pydicom.dcmread(files[0])))
    )
    found: dict[str, list[str]] = {}
    for log in sorted(logs.glob("*.log")):
        text = log.read_text(errors="replace")
        assert text.strip(), f"{log.name} is empty"
        found |= {log.name: leaks} if (leaks := _leaks(text)) else {}
    for path, body in answers.items():
        found |= {path: leaks} if (leaks := _leaks(body)) else {}
    found |= {"job_errors": leaks} if (leaks := _leaks(json.dumps(stored))) else {}
    found |= {"job args": leaks} if (leaks := _leaks(json.dumps(events))) else {}
    assert found == {}, found
    # The logs do carry the study's UID, the refused instance's reason and the job error.
    everything = re.sub(r"\s+", "", "".join(p.read_text() for p in logs.glob("*.log")))
    assert study_uid in everything
    assert "Rows" in everything or "rows" in everything
