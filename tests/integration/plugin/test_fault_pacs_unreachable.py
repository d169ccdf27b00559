"""The PACS cannot be reached when the results are ready, then comes back.

Real components: ``simcase listen`` (a process) receives a study, a procrastinate
worker (stand-in models) answers it and delivers by C-STORE to an Orthanc that is not
running yet; Orthanc is started on that port only after the job failed twice.

Before: the sender's own retries (about 3.5 s) ran out, ``SendError`` failed the job
for good, and the study was never answered. Now the job is retried with backoff
(``plugin.jobs.PROCESS_STUDY_RETRY``), each failed attempt's error kept for the admin
API, and the results arrive once when the PACS is back.
"""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from indexer.job_status import get_job
from tests.conftest import free_port
from tests.integration.plugin.fault_helpers import (
    register_stand_in_model,
    result_sets,
    send_study,
    simcase_listen,
    stand_in_workers,
    study_jobs,
    wait_until,
    worker_settings,
)
from tests.integration.plugin.orthanc_fixture import orthanc_available, running_orthanc
from tests.unit.plugin.samples import mr_series

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _job_errors(database_url: str, job_id: int) -> list[str]:
    with psycopg.connect(database_url) as conn:
        status = get_job(conn, job_id)
    assert status is not None
    return list(status.errors)


def test_results_wait_for_the_pacs_and_arrive_once(database_url: str, tmp_path: Path) -> None:
    if not orthanc_available():
        pytest.fail("the Orthanc binary is not installed: run .ci/run (apt-get install orthanc)")
    register_stand_in_model(database_url)
    http_port, dicom_port = free_port(), free_port()
    study = mr_series(6, rows=32, columns=32)
    study_uid = str(study[0].StudyInstanceUID)
    data_dir = tmp_path / "data"
    settings = worker_settings(database_url, data_dir, ("ORTHANC", dicom_port))
    port = free_port()
    with (
        stand_in_workers(settings, database_url),
        simcase_listen(database_url, data_dir, port, tmp_path / "listen.log"),
    ):
        send_study(port, study).release()  # type: ignore[attr-defined]
        wait_until(lambda: study_jobs(database_url, study_uid), 30, "the study's job")
        job_id = study_jobs(database_url, study_uid)[0][0]
        # nothing listens on the PACS's port: the job fails, visibly, and waits
        wait_until(lambda: len(_job_errors(database_url, job_id)) >= 2, 60, "two failures")
        errors = _job_errors(database_url, job_id)
        assert all(e.startswith("SendError: could not send") for e in errors), errors
        assert all("ORTHANC@127.0.0.1" in e and "Traceback" not in e for e in errors)
        assert study_jobs(database_url, study_uid)[0][1] in ("todo", "doing")
        assert result_sets(database_url, study_uid) == []
        with running_orthanc(tmp_path / "orthanc", ports=(http_port, dicom_port)) as orthanc:
            wait_until(
                lambda: study_jobs(database_url, study_uid) == [(job_id, "succeeded")],
                90,
                "the job to succeed once the PACS is back",
            )
            sets = result_sets(database_url, study_uid)
            assert len(sets) == 1
            sent = sets[0][1]
            in_pacs = orthanc.post("/tools/find", {"Level": "Instance", "Query": {}})
            tags = [orthanc.get(f"/instances/{i}/simplified-tags") for i in in_pacs]
    assert sorted(t["SOPInstanceUID"] for t in tags) == sorted(sent)  # each once
    assert {t["StudyInstanceUID"] for t in tags} == {study_uid}
    assert len(study_jobs(database_url, study_uid)) == 1
