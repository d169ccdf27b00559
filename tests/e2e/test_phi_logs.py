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
date in the usual spellings. The upload's file names carry the name too (one of them a
file that is not DICOM, which the API logs by its position).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import psycopg
import pydicom
import pytest
from pydicom import Dataset
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
from pynetdicom.sop_class import MRImageStorage  # type: ignore[attr-defined]

from tests.conftest import free_port
from tests.e2e.conftest import (
    QueryStudy,
    simcase_env,
    simcase_processes,
    wait_for_log,
)
from tests.e2e.phi_scan import (  # noqa: F401  (small_archive is a fixture)
    ADMIN,
    TIMEOUT_S,
    healthy,
    job_states,
    leaks,
    phi_study,
    scan,
    small_archive,
    wait_until,
)

pytestmark = pytest.mark.e2e

SEARCH = "phi-scan-search-token-0123456789"


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


@pytest.fixture
def services(
    small_archive: str,  # noqa: F811
    tmp_path: Path,
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
            wait_until(lambda: healthy(base), 120, "the API to answer", logs)
            yield small_archive, logs, port, pacs, base
    finally:
        pacs.close()


def test_no_patient_data_in_any_log_job_error_or_admin_answer(
    services: tuple[str, Path, int, RefusingPacs, str], query_study: QueryStudy, tmp_path: Path
) -> None:
    url, logs, port, pacs, base = services
    study_uid = query_study.study_instance_uid
    files = phi_study(query_study, tmp_path / "phi-study")
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

        wait_until(refused, TIMEOUT_S, "a failed attempt of the job", logs)
        jobs = api.get("/api/v1/admin/jobs?limit=1000", headers=auth).json()
        errors = [e for j in jobs for e in j["errors"]]
        assert any("SendError" in e for e in errors), jobs

        # Processed again from the spool through the admin API, the PACS accepting now.
        pacs.refuse.clear()
        again = api.post(f"/api/v1/admin/studies/{study_uid}/process", headers=auth)
        assert again.status_code == 202, again.text
        wait_until(
            lambda: job_states(url, study_uid)[-1:] == ["succeeded"],
            TIMEOUT_S,
            "the job processed again to succeed",
            logs,
        )
        assert pacs.received, "no result reached the PACS"
        # The same study uploaded to the search API (its own patient left out).
        # The upload's file names carry the patient's name, as an export may name them;
        # one is not DICOM (its warning names it by position only).
        upload = [("files", (f"ZZPHI_SENTINEL_{p.name}", p.read_bytes())) for p in files]
        upload.append(("files", ("ZZPHI_SENTINEL_labels.csv", b"case_id,diagnosis\n")))
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
        leaks(str(pydicom.dcmread(files[0])))
    )
    found = scan(
        logs,
        [
            *answers.items(),
            ("job_errors", json.dumps(stored)),
            ("job args", json.dumps(events)),
        ],
    )
    assert found == {}, found
    # The logs do carry the study's UID, the refused instance's reason and the job error.
    everything = re.sub(r"\s+", "", "".join(p.read_text() for p in logs.glob("*.log")))
    assert study_uid in everything
    assert "Rows" in everything or "rows" in everything
    # the upload's file that is not DICOM was logged, by its position
    assert "skippingfilethatisnotDICOM" in everything
