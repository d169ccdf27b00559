"""PostgreSQL stopped and started again while a study is being received.

Real components: ``simcase listen`` (a process) and a procrastinate worker (stand-in
models, delivering by C-STORE to a real SCP) on a PostgreSQL of the test's own, stopped
with ``pg_ctl stop -m fast`` in the middle of an association and started again on the
same data directory.

The rule: the listener acknowledges an instance once its file is fsynced in the spool,
whether or not the journal can be written then. The row follows when the database is
back (the journal writer retries; after a crash the spool scan at start-up writes it),
so an acknowledged instance is never lost, and the study is declared complete only
once its rows are committed.

Before: the listener waited 30 s for the study's rows, then handed the study on anyway;
queueing its job failed with the database down, and the study was never processed
(until the listener restarted). Now it waits ``stable_seconds`` and, while the rows or
the job cannot be written, tries again every ``stable_seconds``.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom import AE
from pynetdicom.sop_class import MRImageStorage  # type: ignore[attr-defined]

from indexer.migrate import migrate
from tests.conftest import free_port
from tests.integration.conftest import new_database, service_dir
from tests.integration.plugin.fault_helpers import (
    SlowPacs,
    content_hash,
    register_stand_in_model,
    result_sets,
    simcase_listen,
    stand_in_workers,
    study_jobs,
    wait_until,
    worker_settings,
)
from tests.integration.restartable_postgres import RestartablePostgres
from tests.unit.plugin.samples import mr_series

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture
def postgres() -> Iterator[RestartablePostgres]:
    with service_dir("pg-restart") as folder:
        server = RestartablePostgres(folder)
        server.start()
        try:
            yield server
        finally:
            server.close()


def _rows(database_url: str, study_uid: str) -> list[str]:
    with psycopg.connect(database_url) as conn:
        return [
            str(r[0])
            for r in conn.execute(
                "SELECT sop_instance_uid FROM received_instances WHERE study_instance_uid = %s",
                (study_uid,),
            )
        ]


def test_postgres_restarted_mid_study_loses_nothing_and_processes_once(
    postgres: RestartablePostgres, tmp_path: Path
) -> None:
    database_url = new_database(postgres.uri)
    migrate(database_url)
    register_stand_in_model(database_url)
    pacs = SlowPacs()
    pacs.gate.set()
    study = mr_series(24, rows=32, columns=32)
    study_uid = str(study[0].StudyInstanceUID)
    data_dir = tmp_path / "data"
    settings = worker_settings(database_url, data_dir, ("PACS", pacs.port))
    port = free_port()
    log = tmp_path / "listen.log"
    try:
        with (
            stand_in_workers(settings, database_url),
            simcase_listen(database_url, data_dir, port, log) as listener,
        ):
            ae = AE(ae_title="ORTHANC")
            ae.add_requested_context(MRImageStorage, ExplicitVRLittleEndian)
            assoc = ae.associate("127.0.0.1", port, ae_title="SIMCASE")
            assert assoc.is_established
            assert [assoc.send_c_store(ds).Status for ds in study[:8]] == [0] * 8
            postgres.stop()
            # acknowledged with the database down: each file fsynced in the spool
            assert [assoc.send_c_store(ds).Status for ds in study[8:]] == [0] * 16
            spooled = {p.stem for p in (data_dir / "spool").rglob("*.dcm")}
            assert spooled == {str(ds.SOPInstanceUID) for ds in study}
            assoc.release()
            # the study's debounce ends with the database down, and stays down longer
            # than the 30 s the listener waited for the rows before it gave the study up
            time.sleep(35)
            assert listener.poll() is None
            postgres.restart()
            wait_until(
                lambda: [s for _, s in study_jobs(database_url, study_uid)] == ["succeeded"],
                90,
                "the study's job",
            )
            time.sleep(5)  # no second job
            assert listener.poll() is None
    finally:
        pacs.stop()
    rows = _rows(database_url, study_uid)
    assert sorted(rows) == sorted(str(ds.SOPInstanceUID) for ds in study)  # each once
    assert len(study_jobs(database_url, study_uid)) == 1
    sets = result_sets(database_url, study_uid)
    assert [content for content, _ in sets] == [content_hash(study)]
    assert sorted(pacs.received) == sorted(sets[0][1])
    logged = " ".join(log.read_text().split())  # the console handler wraps lines
    assert "study complete but not handed on" in logged
    assert "Traceback" not in logged
