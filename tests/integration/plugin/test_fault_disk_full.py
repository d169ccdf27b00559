"""The spool's file system really fills up (no threshold standing in for it).

``simcase listen`` (a process) and a stand-in worker (a process) run inside a user and
mount namespace whose spool is an 8 MiB tmpfs, half of it taken by a filler file; the
embedded PostgreSQL runs outside and is reached on the host's network. The free-space
threshold is off (``SIMCASE_DICOM__MIN_FREE_MB=0``), so the writes themselves meet
ENOSPC, as they do when something else fills the disk between the check and the write.

A 60-instance study (256x256, 128 KiB each) is sent on one association until the disk
is full and on to its end. Every acknowledged instance is in the spool byte for byte
and in the journal; every other one was refused with 0xA700 and left neither a file
nor a row; the listener stays up. Once the filler is deleted, the sender sends the
refused instances again on the same association and releases it: the study completes
and is processed once, with all 60 instances.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest
from pydicom import Dataset
from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom import AE
from pynetdicom.dsutils import encode
from pynetdicom.sop_class import MRImageStorage, Verification  # type: ignore[attr-defined]

from tests.conftest import free_port
from tests.integration.plugin.fault_helpers import (
    REPO,
    content_hash,
    register_stand_in_model,
    result_sets,
    simcase_listen,
    spooled_body,
    study_jobs,
    wait_until,
)
from tests.integration.plugin.small_filesystem import SmallFilesystem, small_filesystem
from tests.integration.plugin.stand_in_worker import READY
from tests.unit.plugin.samples import mr_series

pytestmark = [pytest.mark.integration, pytest.mark.slow]

FILLER_MIB = 4


def journal(database_url: str, study_uid: str) -> dict[str, str]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT sop_instance_uid, path FROM received_instances WHERE study_instance_uid = %s",
            (study_uid,),
        ).fetchall()
    return {str(r[0]): str(r[1]) for r in rows}


def stand_in_worker(
    fs: SmallFilesystem, database_url: str, data_dir: Path, log: Path
) -> subprocess.Popen[str]:
    worker = subprocess.Popen(
        [
            *fs.inside(),
            sys.executable,
            "-m",
            "tests.integration.plugin.stand_in_worker",
            database_url,
            str(data_dir),
        ],
        cwd=REPO,
        # nsenter does not keep the working folder on the path: name the repository
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.PIPE,
        stderr=log.open("w"),
        text=True,
    )
    assert worker.stdout is not None
    if worker.stdout.readline().strip() != READY:
        worker.kill()
        pytest.fail(f"the stand-in worker did not start: {log.read_text()[-2000:]}")
    return worker


def send_all(assoc: object, datasets: list[Dataset]) -> dict[str, int]:
    statuses = {}
    for ds in datasets:
        status = assoc.send_c_store(ds)  # type: ignore[attr-defined]
        statuses[str(ds.SOPInstanceUID)] = int(status.Status)
    return statuses


def test_a_full_spool_disk_refuses_with_out_of_resources_and_loses_nothing(
    database_url: str, tmp_path: Path
) -> None:
    register_stand_in_model(database_url)
    study = mr_series(60, rows=256, columns=256)
    study_uid = str(study[0].StudyInstanceUID)
    bodies = {str(ds.SOPInstanceUID): encode(ds, False, True) for ds in study}
    data_dir = tmp_path / "data"
    spool = data_dir / "spool"
    port = free_port()
    with small_filesystem(spool, "8m") as fs:
        filler = fs.outside(spool / "filler.bin")
        filler.write_bytes(b"\0" * (FILLER_MIB * 2**20))
        worker = stand_in_worker(fs, database_url, data_dir, tmp_path / "worker.log")
        try:
            with simcase_listen(
                database_url,
                data_dir,
                port,
                tmp_path / "listen.log",
                prefix=fs.inside(),
                extra_env={"SIMCASE_DICOM__MIN_FREE_MB": "0"},
            ) as listener:
                ae = AE(ae_title="MODALITY")
                ae.add_requested_context(MRImageStorage, ExplicitVRLittleEndian)
                ae.add_requested_context(Verification)
                assoc = ae.associate("127.0.0.1", port, ae_title="SIMCASE")
                assert assoc.is_established
                first = send_all(assoc, study)
                acked = [uid for uid, s in first.items() if s == 0x0000]
                refused = [uid for uid, s in first.items() if s != 0x0000]
                print(
                    f"\n8 MiB tmpfs, {FILLER_MIB} MiB filler: {len(acked)} acknowledged,"
                    f" {len(refused)} refused"
                )
                assert 10 <= len(acked) < len(study), first
                assert {first[uid] for uid in refused} == {0xA700}
                # full from the first refusal on: nothing after it slipped through
                order = list(first)
                assert all(first[uid] == 0xA700 for uid in order[order.index(refused[0]) :])
                assert listener.poll() is None
                assert assoc.send_c_echo().Status == 0x0000
                rows = journal(database_url, study_uid)
                wait_until(
                    lambda: len(journal(database_url, study_uid)) == len(acked), 30, "journal rows"
                )
                rows = journal(database_url, study_uid)
                assert set(rows) == set(acked)
                for uid in acked:  # every acknowledged instance intact
                    assert spooled_body(fs.outside(Path(rows[uid]))) == bodies[uid]
                study_dir = fs.outside(spool)
                on_disk = {p.stem for p in study_dir.rglob("*.dcm")}
                assert on_disk == set(acked)  # refused: no file, not even a partial one
                assert not list(study_dir.rglob("*.tmp"))
                assert study_jobs(database_url, study_uid) == []  # the association is open

                filler.unlink()  # room again: the sender retries what was refused
                again = send_all(assoc, [ds for ds in study if str(ds.SOPInstanceUID) in refused])
                assert set(again.values()) == {0x0000}, again
                assoc.release()
                wait_until(
                    lambda: [s for _, s in study_jobs(database_url, study_uid)] == ["succeeded"],
                    90,
                    "the study's job to succeed",
                )
                assert listener.poll() is None
            rows = journal(database_url, study_uid)
            assert set(rows) == set(bodies)
            for uid, path in rows.items():
                assert spooled_body(fs.outside(Path(path))) == bodies[uid]
        finally:
            worker.terminate()
            worker.wait(30)
    jobs = study_jobs(database_url, study_uid)
    assert len(jobs) == 1 and jobs[0][1] == "succeeded", jobs
    sets = result_sets(database_url, study_uid)
    assert len(sets) == 1 and sets[0][0] == content_hash(study)
    log = (tmp_path / "listen.log").read_text()
    assert "No space left on device" in log and "Traceback" not in log
