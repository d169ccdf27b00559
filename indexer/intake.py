"""The listener's durable journal: received instances and the studies they belong to.

Every instance the DICOM listener acknowledges is first written to the spool, then
recorded here (table ``received_instances``, one row per study, series and
SOPInstanceUID), and its study is tracked in ``intake_studies`` so that a study
received but never declared complete (a crash, a restart) is found again by
:func:`pending_studies`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import psycopg
from psycopg.rows import class_row, scalar_row

__all__ = [
    "IntakeStudy",
    "ReceivedInstance",
    "StoredInstance",
    "feed_position",
    "forget_study",
    "mark_study_complete",
    "pending_studies",
    "record_instance",
    "save_feed_position",
    "seconds_since_received",
    "study_files",
    "study_instances",
]


log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReceivedInstance:
    """One instance acknowledged by the listener, as it is written to the journal."""

    sop_instance_uid: str
    study_instance_uid: str
    series_instance_uid: str
    sop_class_uid: str
    path: Path
    modality: str | None = None
    calling_ae: str | None = None


@dataclass(frozen=True)
class StoredInstance:
    """A row of ``received_instances``."""

    sop_instance_uid: str
    study_instance_uid: str
    series_instance_uid: str
    sop_class_uid: str
    modality: str | None
    calling_ae: str | None
    path: str
    received_at: datetime


@dataclass(frozen=True)
class IntakeStudy:
    """A row of ``intake_studies``."""

    study_instance_uid: str
    first_received_at: datetime
    last_received_at: datetime
    instances: int
    completed_at: datetime | None


_RECORD = """
INSERT INTO received_instances AS r
    (sop_instance_uid, study_instance_uid, series_instance_uid, sop_class_uid,
     modality, calling_ae, path)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (study_instance_uid, series_instance_uid, sop_instance_uid) DO UPDATE SET
    sop_class_uid = EXCLUDED.sop_class_uid,
    modality = EXCLUDED.modality,
    calling_ae = EXCLUDED.calling_ae,
    path = EXCLUDED.path,
    received_at = clock_timestamp()
RETURNING (xmax = 0) AS inserted,
    EXISTS (SELECT 1 FROM received_instances o
            WHERE o.sop_instance_uid = r.sop_instance_uid
              AND (o.study_instance_uid, o.series_instance_uid)
                  <> (r.study_instance_uid, r.series_instance_uid)) AS elsewhere
"""


@dataclass(frozen=True)
class _Recorded:
    inserted: bool
    elsewhere: bool


_TOUCH_STUDY = """
INSERT INTO intake_studies AS s (study_instance_uid, instances)
VALUES (%s, %s)
ON CONFLICT (study_instance_uid) DO UPDATE SET
    last_received_at = clock_timestamp(),
    instances = s.instances + EXCLUDED.instances
"""


def record_instance(conn: psycopg.Connection[Any], instance: ReceivedInstance) -> bool:
    """Journal one received instance; ``True`` if it is new to its series.

    An instance is keyed by study, series and SOPInstanceUID. The same instance sent
    again replaces its row (a resend, or a corrected copy) and still counts as activity
    of its study, but not as a new instance. A SOPInstanceUID already journalled in
    another study or series (DICOM says it is unique: a sender's error, or a series
    moved to another study by the PACS) gets a row of its own, and a warning names the
    UIDs: the first study keeps its instance. Commits.
    """
    with conn.transaction(), conn.cursor(row_factory=class_row(_Recorded)) as cur:
        row = cur.execute(
            _RECORD,
            (
                instance.sop_instance_uid,
                instance.study_instance_uid,
                instance.series_instance_uid,
                instance.sop_class_uid,
                instance.modality,
                instance.calling_ae,
                str(instance.path),
            ),
        ).fetchone()
        inserted = bool(row and row.inserted)
        if inserted and row and row.elsewhere:
            log.warning(
                "SOPInstanceUID already received in another study or series; kept as a"
                " separate instance of this one",
                extra={
                    "study_uid": instance.study_instance_uid,
                    "series_uid": instance.series_instance_uid,
                    "sop_uid": instance.sop_instance_uid,
                },
            )
        conn.execute(_TOUCH_STUDY, (instance.study_instance_uid, 1 if inserted else 0))
    return inserted


def study_instances(conn: psycopg.Connection[Any], study_instance_uid: str) -> list[StoredInstance]:
    """The journalled instances of a study, by series then SOPInstanceUID."""
    with conn.cursor(row_factory=class_row(StoredInstance)) as cur:
        cur.execute(
            "SELECT sop_instance_uid, study_instance_uid, series_instance_uid, sop_class_uid,"
            " modality, calling_ae, path, received_at FROM received_instances"
            " WHERE study_instance_uid = %s ORDER BY series_instance_uid, sop_instance_uid",
            (study_instance_uid,),
        )
        return cur.fetchall()


def study_files(conn: psycopg.Connection[Any], study_instance_uid: str) -> list[Path]:
    """The spooled files of a study (the paths recorded for its instances)."""
    return [Path(i.path) for i in study_instances(conn, study_instance_uid)]


def mark_study_complete(conn: psycopg.Connection[Any], study_instance_uid: str) -> None:
    """Record that the study was declared complete with what has arrived so far, at the
    database's clock: ``completed_at`` is the time of the declaration, and an instance
    journalled after it (``last_received_at`` later) makes the study pending again.
    Commits."""
    with conn.transaction():
        conn.execute(
            "UPDATE intake_studies SET completed_at = clock_timestamp()"
            " WHERE study_instance_uid = %s",
            (study_instance_uid,),
        )


def pending_studies(conn: psycopg.Connection[Any]) -> list[IntakeStudy]:
    """Studies with instances newer than their last completion (or never completed)."""
    with conn.cursor(row_factory=class_row(IntakeStudy)) as cur:
        cur.execute(
            "SELECT study_instance_uid, first_received_at, last_received_at, instances,"
            " completed_at FROM intake_studies"
            " WHERE completed_at IS NULL OR completed_at < last_received_at"
            " ORDER BY last_received_at"
        )
        return cur.fetchall()


def seconds_since_received(conn: psycopg.Connection[Any], study_instance_uid: str) -> float | None:
    """Seconds from the study's last acknowledged instance to now, on the database's
    clock (the listener's and the worker's hosts may disagree); None for a study the
    listener did not receive."""
    with conn.cursor(row_factory=scalar_row) as cur:
        seconds = cur.execute(
            "SELECT extract(epoch FROM clock_timestamp() - last_received_at)::float8"
            " FROM intake_studies WHERE study_instance_uid = %s",
            (study_instance_uid,),
        ).fetchone()
    return None if seconds is None else float(seconds)


def forget_study(conn: psycopg.Connection[Any], study_instance_uid: str) -> int:
    """Remove a study's journal rows (not its files); the number of instances removed."""
    with conn.transaction():
        n = conn.execute(
            "DELETE FROM received_instances WHERE study_instance_uid = %s", (study_instance_uid,)
        ).rowcount
        conn.execute(
            "DELETE FROM intake_studies WHERE study_instance_uid = %s", (study_instance_uid,)
        )
    return n


def feed_position(conn: psycopg.Connection[Any], feed: str) -> int | None:
    """The last change sequence number processed from ``feed``, if any."""
    with conn.cursor(row_factory=scalar_row) as cur:
        seq = cur.execute("SELECT last_seq FROM feed_positions WHERE feed = %s", (feed,)).fetchone()
    return int(seq) if seq is not None else None


def save_feed_position(conn: psycopg.Connection[Any], feed: str, last_seq: int) -> None:
    """Remember that ``feed`` has been processed up to ``last_seq``. Commits."""
    with conn.transaction():
        conn.execute(
            "INSERT INTO feed_positions (feed, last_seq) VALUES (%s, %s)"
            " ON CONFLICT (feed) DO UPDATE SET last_seq = EXCLUDED.last_seq, updated_at = now()",
            (feed, last_seq),
        )
