"""A failed job's error text (the worker's ``job N attempt M failed: ...`` line and the
text kept for the admin API) never quotes a path or a name from the exception's
message (issue 15): a real NiftiError on a file whose folder and name carry a
patient's name, raised in a real worker on the test database."""

from __future__ import annotations

import logging
from pathlib import Path

import psycopg
import pytest
from procrastinate import JobContext

from dicom_conversion.log_refs import name_ref
from dicom_conversion.nifti import read_nifti
from indexer.job_status import get_job
from indexer.jobs import JOB_QUEUE, JobResources, create_job_app, job, task_name

pytestmark = pytest.mark.integration

PATIENT = "ZZPHI^SENTINEL"


@job("read_a_file", retry=0)
def _read_a_file(context: JobContext, path: str) -> None:
    read_nifti(Path(path))


def test_the_job_error_names_neither_the_file_nor_the_patient(
    database_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / PATIENT
    folder.mkdir()
    broken = folder / "ZZPHI SENTINEL t1.nii.gz"
    broken.write_bytes(b"not a NIfTI file at all")
    app = create_job_app(database_url, tasks=[_read_a_file])
    with app.open(), caplog.at_level(logging.WARNING, logger="indexer.jobs"):
        job_id = app.configure_task(task_name("read_a_file")).defer(path=str(broken))
        app.run_worker(
            queues=[JOB_QUEUE],
            wait=False,
            install_signal_handlers=False,
            additional_context={"resources": JobResources(conninfo=database_url)},
        )
    with psycopg.connect(database_url) as conn:
        status = get_job(conn, job_id)
    assert status is not None and status.state == "failed"
    [kept] = status.errors
    [logged] = [r.getMessage() for r in caplog.records if "attempt 1 failed" in r.getMessage()]
    assert logged == f"job {job_id} attempt 1 failed: {kept}"
    assert kept.startswith(f"NiftiError: Cannot read NIfTI file {name_ref(broken)}")
    for text in (kept, logged):
        assert "ZZPHI" not in text and "SENTINEL" not in text and str(tmp_path) not in text
