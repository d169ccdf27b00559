"""The results log: which result sets went back into which query studies.

Beside the intake journal (:mod:`indexer.intake`): the journal records what arrived,
this log what simcase answered (table ``results``, one row per study, model version
and content). A study answered before under the same model version with the same
instances is not answered again; a new answer names the report it supersedes.
:class:`PostgresResultsLog` keeps it in the database, :class:`MemoryResultsLog` in a
list for unit tests.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

import psycopg
from psycopg.rows import scalar_row

from indexer.cases import audit

__all__ = [
    "MemoryResultsLog",
    "PostgresResultsLog",
    "PreviousResult",
    "ResultRecord",
    "ResultsLog",
]


@dataclass(frozen=True)
class PreviousResult:
    """What an earlier answer to the same study means for this one."""

    #: SOPInstanceUID of the report of the latest result set sent for the study.
    supersedes: str | None
    #: Whether this very content was answered under this model version already.
    already_sent: bool


@dataclass(frozen=True)
class ResultRecord:
    """One result set delivered into a query study."""

    study_instance_uid: str
    model_version: str
    content_hash: str
    series_instance_uid: str
    sop_instance_uids: list[str]
    destination: str
    #: The archive cases the result set shows (audited).
    shown_case_ids: list[str] = field(default_factory=list)
    supersedes: str | None = None
    #: Why outline objects the report announced are missing (sent after the report,
    #: they failed to build or send); kept in the audit row.
    outline_missing: str | None = None


class ResultsLog(Protocol):
    """Where :func:`~plugin.processing.process_study` looks up and records its answers."""

    def previous(
        self, study_instance_uid: str, model_version: str, content_hash: str
    ) -> PreviousResult: ...

    def record(self, result: ResultRecord) -> None: ...


class PostgresResultsLog:
    """:class:`ResultsLog` in the ``results`` table (an autocommit connection)."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn

    def previous(
        self, study_instance_uid: str, model_version: str, content_hash: str
    ) -> PreviousResult:
        same = self.conn.execute(
            "SELECT 1 FROM results WHERE study_instance_uid = %s AND model_version = %s"
            " AND content_hash = %s AND state = 'sent'",
            (study_instance_uid, model_version, content_hash),
        ).fetchone()
        with self.conn.cursor(row_factory=scalar_row) as cur:
            earlier: list[str] | None = cur.execute(
                "SELECT sop_instance_uids FROM results WHERE study_instance_uid = %s"
                " AND state = 'sent' ORDER BY id DESC LIMIT 1",
                (study_instance_uid,),
            ).fetchone()
        return PreviousResult(earlier[-1] if earlier else None, same is not None)

    def record(self, result: ResultRecord) -> None:
        """Record a sent result set and audit the cases it showed, in one transaction."""
        with self.conn.transaction():
            self.conn.execute(
                "INSERT INTO results (study_instance_uid, model_version, content_hash,"
                " series_instance_uid, sop_instance_uids, destination, state, sent_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, 'sent', now())"
                " ON CONFLICT (study_instance_uid, model_version, content_hash) DO UPDATE SET"
                " sop_instance_uids = excluded.sop_instance_uids, state = excluded.state,"
                " sent_at = now(), destination = excluded.destination",
                (
                    result.study_instance_uid,
                    result.model_version,
                    result.content_hash,
                    result.series_instance_uid,
                    result.sop_instance_uids,
                    result.destination,
                ),
            )
            audit(
                self.conn,
                "process_study",
                "shown_cases",
                result.study_instance_uid,
                {
                    "case_ids": result.shown_case_ids,
                    "model_version": result.model_version,
                    "supersedes": result.supersedes,
                    **({"outline_missing": m} if (m := result.outline_missing) else {}),
                },
            )


@dataclass
class MemoryResultsLog:
    """:class:`ResultsLog` in a list (unit tests)."""

    records: list[ResultRecord] = field(default_factory=list)

    def previous(
        self, study_instance_uid: str, model_version: str, content_hash: str
    ) -> PreviousResult:
        earlier = [r for r in self.records if r.study_instance_uid == study_instance_uid]
        same = any(
            (r.model_version, r.content_hash) == (model_version, content_hash) for r in earlier
        )
        latest = earlier[-1].sop_instance_uids if earlier else []
        return PreviousResult(latest[-1] if latest else None, same)

    def record(self, result: ResultRecord) -> None:
        """Add the record, or replace the one of the same study, version and content
        where it stood (as the table's upsert keeps the row's id)."""
        key = (result.study_instance_uid, result.model_version, result.content_hash)
        for i, r in enumerate(self.records):
            if (r.study_instance_uid, r.model_version, r.content_hash) == key:
                self.records[i] = result
                return
        self.records.append(result)
