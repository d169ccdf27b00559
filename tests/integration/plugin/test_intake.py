"""indexer.intake: the listener's journal in a real PostgreSQL."""

from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest

from indexer.intake import (
    ReceivedInstance,
    forget_study,
    mark_study_complete,
    pending_studies,
    record_instance,
    study_files,
    study_instances,
)

pytestmark = pytest.mark.integration


def instance(sop: str, study: str = "1.1", series: str = "1.1.1") -> ReceivedInstance:
    return ReceivedInstance(
        sop_instance_uid=sop,
        study_instance_uid=study,
        series_instance_uid=series,
        sop_class_uid="1.2.840.10008.5.1.4.1.1.4",
        path=Path(f"/spool/{study}/{series}/{sop}.dcm"),
        modality="MR",
        calling_ae="ORTHANC",
    )


def test_record_dedup_list_pending_complete_forget(database_url: str) -> None:
    with psycopg.connect(database_url) as conn:
        assert record_instance(conn, instance("1.1.1.1"))
        assert record_instance(conn, instance("1.1.1.2"))
        assert not record_instance(conn, instance("1.1.1.1"))  # same SOPInstanceUID again
        assert record_instance(conn, instance("2.1.1.1", study="2.1", series="2.1.1"))
        assert [i.sop_instance_uid for i in study_instances(conn, "1.1")] == [
            "1.1.1.1",
            "1.1.1.2",
        ]
        assert study_files(conn, "1.1")[0] == Path("/spool/1.1/1.1.1/1.1.1.1.dcm")
        pending = {s.study_instance_uid: s for s in pending_studies(conn)}
        assert set(pending) == {"1.1", "2.1"}
        assert pending["1.1"].instances == 2

        mark_study_complete(conn, "1.1")
        assert [s.study_instance_uid for s in pending_studies(conn)] == ["2.1"]
        record_instance(conn, instance("1.1.1.3"))  # a late instance: pending again
        assert {s.study_instance_uid for s in pending_studies(conn)} == {"1.1", "2.1"}

        assert forget_study(conn, "1.1") == 3
        assert study_instances(conn, "1.1") == []
        assert {s.study_instance_uid for s in pending_studies(conn)} == {"2.1"}


def test_a_sop_instance_uid_reused_in_another_study_keeps_the_first_study_whole(
    database_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with psycopg.connect(database_url) as conn:
        assert record_instance(conn, instance("9.9.1"))
        assert record_instance(conn, instance("1.1.1.2"))
        with caplog.at_level("WARNING", logger="indexer.intake"):
            # another object reusing 9.9.1 in study 2.1: a row of its own, a warning
            assert record_instance(conn, instance("9.9.1", study="2.1", series="2.1.1"))
        assert [r.getMessage() for r in caplog.records] == [
            "SOPInstanceUID already received in another study or series; kept as a"
            " separate instance of this one"
        ]
        assert getattr(caplog.records[0], "sop_uid", None) == "9.9.1"
        assert getattr(caplog.records[0], "study_uid", None) == "2.1"
        assert [i.sop_instance_uid for i in study_instances(conn, "1.1")] == [
            "1.1.1.2",
            "9.9.1",
        ]
        assert study_files(conn, "2.1") == [Path("/spool/2.1/2.1.1/9.9.1.dcm")]
        # the same object sent again is idempotent, in either study
        caplog.clear()
        assert not record_instance(conn, instance("9.9.1"))
        assert not record_instance(conn, instance("9.9.1", study="2.1", series="2.1.1"))
        assert caplog.records == []
        counts = {s.study_instance_uid: s.instances for s in pending_studies(conn)}
        assert counts == {"1.1": 2, "2.1": 1}


def _intake_times(conn: psycopg.Connection[object], study: str) -> tuple[float, float | None]:
    """Seconds from the study's last instance to now, and from its completion to now, on
    the database's clock."""
    row = conn.execute(
        "SELECT extract(epoch FROM clock_timestamp() - last_received_at)::float8,"
        " extract(epoch FROM clock_timestamp() - completed_at)::float8"
        " FROM intake_studies WHERE study_instance_uid = %s",
        (study,),
    ).fetchone()
    assert row is not None
    return row[0], row[1]


def test_completed_at_is_the_time_of_the_declaration(database_url: str) -> None:
    """``completed_at`` is when the study was declared complete (the database's clock),
    not a copy of ``last_received_at``; a later instance makes it pending again, and a
    second declaration moves ``completed_at`` on."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        record_instance(conn, instance("3.1.1.1", study="3.1", series="3.1.1"))
        time.sleep(0.5)  # the listener's stable_seconds, shortened
        mark_study_complete(conn, "3.1")
        since_last, since_completed = _intake_times(conn, "3.1")
        assert since_completed is not None
        assert 0.0 <= since_completed < 0.25 and since_last >= 0.5
        assert "3.1" not in {s.study_instance_uid for s in pending_studies(conn)}
        time.sleep(0.2)
        record_instance(conn, instance("3.1.1.2", study="3.1", series="3.1.1"))
        [pending] = [s for s in pending_studies(conn) if s.study_instance_uid == "3.1"]
        assert pending.completed_at is not None
        assert pending.completed_at < pending.last_received_at
        assert (pending.completed_at - pending.first_received_at).total_seconds() >= 0.5
        time.sleep(0.3)
        mark_study_complete(conn, "3.1")
        since_last, since_completed = _intake_times(conn, "3.1")
        assert since_completed is not None and since_last - since_completed >= 0.3
        assert "3.1" not in {s.study_instance_uid for s in pending_studies(conn)}
