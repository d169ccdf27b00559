"""No patient name, ID or birth date in any log line, job error or admin answer: the pull
path (Orthanc's change feed, WADO-RS, STOW-RS).

The study of ``test_phi_logs.py`` (every instance carrying the sentinel patient name, ID
and birth date, every third with the birth date in ISO form) plus one instance of the
same patient with Rows=0 is stored into a real Orthanc by its REST API. ``simcase
listen`` (a subprocess) follows Orthanc's ``/changes``, sees the study stable and queues
``process_study`` from DICOMweb; ``simcase worker`` (a subprocess, the shipped models, a
small indexed archive) pulls it by WADO-RS and writes its results back by STOW-RS, both
through a relay in front of Orthanc's DICOMweb that refuses (HTTP 500) at first:

1. it refuses the WADO-RS pull: the job fails, its error kept;
2. the study is pulled again through the admin API of ``simcase api`` (``POST
   /api/v1/admin/studies/{uid}/process``, source ``dicomweb``), the relay now letting
   the pull through but refusing STOW-RS: the attempt fails with a SendError, kept;
3. the relay accepts STOW-RS: the job's retry delivers, and QIDO-RS lists the SR;
4. the pull endpoint (``POST /api/v1/studies/{uid}/search``, admin token, what Orthanc's
   notify script calls) pulls the study once more.

Every process runs with ``--verbose`` (DEBUG). Then every line of every simcase process
(Orthanc's own log is not simcase's and is left out), every job error, every job's
arguments and the admin API's jobs, studies and audit listings are scanned for the
name, its parts, the ID and the birth date in the usual spellings.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pydicom
import pytest
from pydicom.uid import generate_uid
from pynetdicom.sop_class import MRImageStorage  # type: ignore[attr-defined]

from tests.conftest import free_port
from tests.e2e.conftest import (
    STABLE_AGE_S,
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
from tests.integration.plugin.orthanc_fixture import OrthancServer, running_orthanc

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


class _Relay(BaseHTTPRequestHandler):
    """Forwards to Orthanc's DICOMweb, or answers 500 while the method is refused."""

    server: RefusingDicomweb.Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the relay is the test's, not simcase's: nothing of it in the scanned logs

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() != "chunked":
            return self.rfile.read(int(self.headers.get("Content-Length") or 0))
        chunks = []
        while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
            chunks.append(self.rfile.read(size))
            self.rfile.readline()
        while self.rfile.readline().strip():  # trailers, up to the empty line
            pass
        return b"".join(chunks)

    def _relay(self) -> None:
        body = self._body()
        relay = self.server.relay
        if self.command in relay.refused:
            relay.refusals[self.command] = relay.refusals.get(self.command, 0) + 1
            self.send_response(500)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("accept", "content-type")}
        answer = httpx.request(
            self.command, relay.target + self.path, headers=headers, content=body, timeout=120
        )
        self.send_response(answer.status_code)
        for name in ("Content-Type",):
            if name in answer.headers:
                self.send_header(name, answer.headers[name])
        self.send_header("Content-Length", str(len(answer.content)))
        self.end_headers()
        self.wfile.write(answer.content)

    do_GET = do_POST = _relay


class RefusingDicomweb:
    """An HTTP relay on 127.0.0.1 in front of Orthanc that refuses the methods in
    ``refused`` (``GET``: WADO-RS, ``POST``: STOW-RS) with HTTP 500."""

    class Server(ThreadingHTTPServer):
        relay: RefusingDicomweb

    def __init__(self, orthanc: OrthancServer) -> None:
        self.target = orthanc.url
        self.refused = {"GET", "POST"}
        self.refusals: dict[str, int] = {}
        self.server = self.Server(("127.0.0.1", 0), _Relay)
        self.server.relay = self
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/dicom-web"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)


@dataclass(frozen=True)
class PullLoop:
    url: str
    logs: Path
    orthanc: OrthancServer
    relay: RefusingDicomweb
    api: str


@pytest.fixture
def pull_loop(
    small_archive: str,  # noqa: F811
    tmp_path: Path,
) -> Iterator[PullLoop]:
    """Orthanc (StableAge 2 s, no script), the refusing relay in front of its DICOMweb,
    and ``simcase listen`` (following /changes), ``worker`` and ``api``, each with
    ``--verbose``, pulling from and writing to the relay."""
    api_port = free_port()
    logs = tmp_path / "logs"
    logs.mkdir()
    with running_orthanc(tmp_path / "orthanc", stable_age=STABLE_AGE_S) as orthanc:
        relay = RefusingDicomweb(orthanc)
        env = simcase_env(
            small_archive,
            tmp_path / "data",
            dicom__host="127.0.0.1",
            dicom__port=str(free_port()),
            pacs__orthanc_url=orthanc.url,
            pacs__dicomweb_url=relay.url,
            results__stow_url=relay.url,
            api__port=str(api_port),
            api__admin_token=ADMIN,
        )
        base = f"http://127.0.0.1:{api_port}"
        try:
            with simcase_processes(["listen", "worker", "api"], env, logs, verbose=True):
                # The follower starts at the end of the feed: store only once it follows.
                wait_for_log(logs / "listen.log", "following Orthanc changes from seq")
                wait_for_log(logs / "worker.log", "worker started")
                wait_until(lambda: healthy(base), 120, "the API to answer", logs)
                yield PullLoop(small_archive, logs, orthanc, relay, base)
        finally:
            relay.close()


def _store_in_orthanc(orthanc: OrthancServer, files: list[Path]) -> None:
    """The study and one more instance of it with Rows=0, by Orthanc's REST API."""
    template = next(
        p
        for p in files
        if pydicom.dcmread(p, stop_before_pixels=True).SOPClassUID == MRImageStorage
    )
    broken = pydicom.dcmread(template)
    broken.SOPInstanceUID = generate_uid()
    broken.file_meta.MediaStorageSOPInstanceUID = broken.SOPInstanceUID
    broken.Rows = 0
    broken_path = files[0].parent / "rows0.dcm"
    broken.save_as(broken_path)
    for path in [*files, broken_path]:
        stored = httpx.post(f"{orthanc.url}/instances", content=path.read_bytes(), timeout=60)
        assert stored.status_code == 200, (path.name, stored.text, orthanc.log_text()[-2000:])


def _errors(api: httpx.Client) -> list[str]:
    jobs = api.get("/api/v1/admin/jobs?limit=1000", headers=_AUTH).json()
    return [e for j in jobs for e in j["errors"]]


def _sr_by_qido(orthanc: OrthancServer, study_uid: str) -> list[dict[str, Any]]:
    found = httpx.get(
        f"{orthanc.dicomweb_url}/studies/{study_uid}/series",
        params={"Modality": "SR"},
        headers={"Accept": "application/dicom+json"},
        timeout=30,
    )
    assert found.status_code in (200, 204), found.text
    return list(found.json()) if found.status_code == 200 else []


_AUTH = {"Authorization": f"Bearer {ADMIN}"}


def test_pull_path_logs_no_patient_data(
    pull_loop: PullLoop, query_study: QueryStudy, tmp_path: Path
) -> None:
    loop, study_uid = pull_loop, query_study.study_instance_uid
    files = phi_study(query_study, tmp_path / "phi-study")
    _store_in_orthanc(loop.orthanc, files)
    with httpx.Client(base_url=loop.api, timeout=120) as api:
        # 1. The follower queues the stable study; the relay refuses the WADO-RS pull.
        wait_until(
            lambda: job_states(loop.url, study_uid)[-1:] == ["failed"],
            TIMEOUT_S,
            "the pull to fail",
            loop.logs,
        )
        assert loop.relay.refusals.get("GET"), loop.relay.refusals
        assert _errors(api), "the failed pull left no error"

        # 2. Pulled again through the admin API; the relay refuses STOW-RS.
        loop.relay.refused.discard("GET")
        again = api.post(f"/api/v1/admin/studies/{study_uid}/process", headers=_AUTH)
        assert again.status_code == 202, again.text
        assert again.json()["source"] == "dicomweb", again.text
        wait_until(
            lambda: any("SendError" in e for e in _errors(api)),
            TIMEOUT_S,
            "the refused STOW-RS",
            loop.logs,
        )
        assert not _sr_by_qido(loop.orthanc, study_uid)

        # 3. The relay accepts: the job's retry delivers into Orthanc.
        loop.relay.refused.discard("POST")
        wait_until(
            lambda: job_states(loop.url, study_uid)[-1:] == ["succeeded"],
            TIMEOUT_S,
            "the retried job to succeed",
            loop.logs,
        )
        assert _sr_by_qido(loop.orthanc, study_uid), "no SR in the study by QIDO-RS"

        # 4. The pull endpoint (what Orthanc's notify script calls) queues it once more.
        queued = len(job_states(loop.url, study_uid))
        pulled = api.post(f"/api/v1/studies/{study_uid}/search", headers=_AUTH)
        assert pulled.status_code == 202, pulled.text
        wait_until(
            lambda: job_states(loop.url, study_uid)[queued:] == ["succeeded"],
            TIMEOUT_S,
            "the pulled-again job to succeed",
            loop.logs,
        )
        jobs = api.get("/api/v1/admin/jobs?limit=1000", headers=_AUTH).json()
        answers = {
            path: api.get(path, headers=_AUTH).text
            for path in (
                "/api/v1/admin/jobs?limit=1000",
                "/api/v1/admin/studies?limit=1000",
                "/api/v1/admin/audit?limit=1000",
                *(f"/api/v1/admin/jobs/{j['job_id']}" for j in jobs),
            )
        }
    with psycopg.connect(loop.url) as conn:
        stored = [r[0] for r in conn.execute("SELECT error FROM job_errors").fetchall()]
        events = conn.execute("SELECT args::text FROM procrastinate_jobs").fetchall()
    assert len(stored) >= 2 and any("SendError" in e for e in stored), stored

    # The scan finds the patient data where it is: in the instances, as Orthanc serves them.
    served = httpx.get(f"{loop.orthanc.url}/instances", params={"expand": ""}, timeout=30)
    first = httpx.get(f"{loop.orthanc.url}/instances/{served.json()[0]['ID']}/tags?simplify")
    assert {"ZZPHI^SENTINEL", "PHI-ID-99173"} <= set(leaks(first.text))
    found = scan(
        loop.logs,
        [
            *answers.items(),
            ("job_errors", json.dumps(stored)),
            ("job args", json.dumps(events)),
        ],
    )
    assert found == {}, found
    # The logs do carry the study's UID, the pull, the skipped instance and the STOW-RS.
    everything = re.sub(r"\s+", "", "".join(p.read_text() for p in loop.logs.glob("*.log")))
    assert study_uid in everything
    assert "Rowsis0" in everything, "the Rows=0 instance was not reported as skipped"
