"""The optional Orthanc Python plugin script: push by C-STORE or notify, with the loop guard."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import numpy as np
import psycopg
import pytest

from plugin.orthanc.config import forward_script_path
from plugin.results.sender import CStoreSender
from tests.conftest import free_port
from tests.integration.plugin.listener_helpers import CollectingCallback, running_listener
from tests.integration.plugin.orthanc_fixture import running_orthanc
from tests.integration.plugin.test_orthanc_changes import last_seq, storescu, wait_for_stable
from tests.unit.plugin.result_samples import hits_for, results_for
from tests.unit.plugin.samples import mr_series

pytestmark = [
    pytest.mark.integration,
    pytest.mark.slow,
]


def instances_received(database_url: str, study_uid: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "SELECT count(*) FROM received_instances WHERE study_instance_uid = %s", (study_uid,)
        ).fetchone()
        return int(row[0]) if row else 0


def test_push_by_cstore_reaches_the_listener_once(database_url: str, tmp_path: Path) -> None:
    callback = CollectingCallback()
    with (
        running_listener(
            database_url,
            tmp_path / "spool",
            callback,
            allowed_aes=["ORTHANC"],
            debounce_seconds=0.3,
        ) as listener,
        running_orthanc(
            tmp_path / "orthanc",
            stable_age=1,
            simcase_port=listener.port,
            forward_script=forward_script_path(),
            forward_settings={"Mode": "cstore", "Modality": "simcase"},
        ) as orthanc,
    ):
        series = mr_series(3, seed=11)
        study_uid = series[0].StudyInstanceUID
        storescu(orthanc, series, tmp_path / "study")
        assert callback.wait_for(1, timeout=30) == [study_uid], orthanc.log_text()[-3000:]
        assert instances_received(database_url, study_uid) == 3

        # simcase's results stored into the study: stable again, but not forwarded again
        results = results_for(series, hits_for(2), np.ones((16, 16)), model_version="m1")
        before = last_seq(orthanc)
        CStoreSender(orthanc.aet, "127.0.0.1", orthanc.dicom_port).send(results)
        wait_for_stable(orthanc, before)
        time.sleep(2.0)  # the worker thread has had time to act
        assert callback.studies == [study_uid]
        assert instances_received(database_url, study_uid) == 3


class _Recorder(BaseHTTPRequestHandler):
    calls: ClassVar[list[tuple[str, dict[str, object], str | None]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        type(self).calls.append((self.path, json.loads(body), self.headers.get("Authorization")))
        self.send_response(202)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def notify_server() -> Iterator[tuple[int, type[_Recorder]]]:
    _Recorder.calls = []
    port = free_port()
    server = ThreadingHTTPServer(("127.0.0.1", port), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield port, _Recorder
    finally:
        server.shutdown()
        server.server_close()


def test_push_by_notify_posts_to_the_pull_endpoint(
    tmp_path: Path, notify_server: tuple[int, type[_Recorder]]
) -> None:
    port, recorder = notify_server
    url = f"http://127.0.0.1:{port}/api/v1/studies/{{study_uid}}/search"
    with running_orthanc(
        tmp_path / "orthanc",
        stable_age=1,
        forward_script=forward_script_path(),
        forward_settings={"Mode": "notify", "NotifyUrl": url, "Token": "s3cret"},
    ) as orthanc:
        series = mr_series(2, seed=12)
        study_uid = series[0].StudyInstanceUID
        storescu(orthanc, series, tmp_path / "study")
        deadline = time.monotonic() + 30
        while not recorder.calls and time.monotonic() < deadline:
            time.sleep(0.2)
        assert len(recorder.calls) == 1, orthanc.log_text()[-3000:]
        path, body, auth = recorder.calls[0]
        assert path == f"/api/v1/studies/{study_uid}/search"
        assert auth == "Bearer s3cret"
        assert body["orthanc_id"] and len(body["series"]) == 1  # type: ignore[arg-type]
        found = orthanc.post(
            "/tools/find", {"Level": "Study", "Query": {"StudyInstanceUID": study_uid}}
        )
        marked = orthanc.get(f"/studies/{found[0]}/metadata")
        assert "SimcaseRouted" in marked
