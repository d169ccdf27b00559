"""In-process instruments: what this process received, processed and sent.

The names and labels are a contract with operators' alert rules: change them only with
docs/operations.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from prometheus_client import Counter, Histogram, start_http_server

if TYPE_CHECKING:
    from indexer.intake import ReceivedInstance
    from plugin.dicom.journal import InstanceJournal

__all__ = [
    "INSTANCES_RECEIVED",
    "SEND_ATTEMPTS",
    "SEND_RETRIES",
    "SKIPPED_STATES",
    "STAGES",
    "STAGE_SECONDS",
    "STUDIES_FAILED",
    "STUDIES_PROCESSED",
    "STUDIES_QUEUED",
    "STUDIES_SKIPPED",
    "STUDY_LATENCY",
    "CountingJournal",
    "record_failure",
    "record_latency",
    "record_outcome",
    "record_send",
    "record_study_queued",
    "serve_process_metrics",
]

#: ``process_study`` outcomes that delivered nothing (counted as skipped, no latency).
SKIPPED_STATES = frozenset({"unchanged", "no-input"})

#: ``process_study``'s named steps -> the stage label of ``simcase_stage_seconds``.
STAGES: Mapping[str, str] = {
    "load_files": "fetch",
    "load": "load",
    "segment": "segment",
    "embed": "embed",
    "search": "search",
    "build": "build",
    "send": "send",
    "outline": "outline",
    "send_outline": "send_outline",
}

INSTANCES_RECEIVED = Counter(
    "simcase_instances_received",
    "DICOM instances the listener acknowledged (spooled and journalled).",
)
STUDIES_QUEUED = Counter(
    "simcase_studies_received",
    "Studies queued for processing, by how they arrived (spool: C-STORE push; "
    "dicomweb: Orthanc /changes or the API's pull request).",
    ["source"],
)
STUDIES_PROCESSED = Counter(
    "simcase_studies_processed",
    "Studies answered: outcome 'answered' (similar cases sent) or 'short_report' "
    "(not a brain MR, or no tumour: a short SR says so).",
    ["outcome"],
)
STUDIES_SKIPPED = Counter(
    "simcase_studies_skipped",
    "Studies processed without sending anything, by reason ('unchanged': already "
    "answered under this model version; 'no_input': only simcase's own objects).",
    ["reason"],
)
STUDIES_FAILED = Counter(
    "simcase_studies_failed",
    "process_study attempts that raised (the job retries), by reason.",
    ["reason"],
)
STAGE_SECONDS = Histogram(
    "simcase_stage_seconds",
    "Time spent in each stage of process_study.",
    ["stage"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0),
)
STUDY_LATENCY = Histogram(
    "simcase_study_latency_seconds",
    "From a study's arrival to its results delivered, by how it arrived (spool: from the "
    "last acknowledged instance; dicomweb: from the job's queueing, once Orthanc called "
    "the study stable), on the database's clock.",
    ["source"],
    buckets=(0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0),
)
SEND_ATTEMPTS = Counter(
    "simcase_send_attempts",
    "Attempts to deliver a batch of result objects, by result ('ok', 'retry', 'failed').",
    ["result"],
)
SEND_RETRIES = Counter(
    "simcase_send_retries",
    "Result deliveries that had to be retried (each retry after a failed attempt).",
)


def record_study_queued(source: str) -> None:
    """A study was queued for ``process_study`` from ``source`` (spool or dicomweb)."""
    STUDIES_QUEUED.labels(source=source).inc()


def record_outcome(
    state: str, shown_case_ids: Sequence[str], timings_s: Mapping[str, float]
) -> None:
    """Count one finished ``process_study`` and observe its stages' durations."""
    if state in SKIPPED_STATES:
        STUDIES_SKIPPED.labels(reason=state.replace("-", "_")).inc()
    else:
        STUDIES_PROCESSED.labels(outcome="answered" if shown_case_ids else "short_report").inc()
    for step, seconds in timings_s.items():
        STAGE_SECONDS.labels(stage=STAGES.get(step, step)).observe(seconds)


def record_latency(source: str, seconds: float) -> None:
    """Observe one study's arrival-to-delivery latency (``source``: spool or dicomweb)."""
    STUDY_LATENCY.labels(source=source).observe(max(0.0, seconds))


def _failure_reason(exc: BaseException) -> str:
    from plugin.errors import SendError

    if isinstance(exc, SendError):
        return "send"
    kind = type(exc).__name__
    if kind == "StudySourceError":
        return "source"
    module = type(exc).__module__ or ""
    if module.startswith("psycopg") or kind == "DatabaseUnavailableError":
        return "database"
    return "other"


def record_failure(exc: BaseException) -> None:
    """Count a ``process_study`` attempt that raised ``exc`` (reason: send, source,
    database or other)."""
    STUDIES_FAILED.labels(reason=_failure_reason(exc)).inc()


def record_send(attempts: int, *, delivered: bool) -> None:
    """Count one delivery: ``attempts`` tries, the last one successful or not."""
    retries = max(0, attempts - 1)
    if retries:
        SEND_RETRIES.inc(retries)
        SEND_ATTEMPTS.labels(result="retry").inc(retries)
    SEND_ATTEMPTS.labels(result="ok" if delivered else "failed").inc()


class CountingJournal:
    """An :class:`~plugin.dicom.journal.InstanceJournal` that counts what it records."""

    def __init__(self, journal: InstanceJournal) -> None:
        self._journal = journal

    def record(self, instance: ReceivedInstance) -> bool:
        new = self._journal.record(instance)
        INSTANCES_RECEIVED.inc()
        return new

    def record_many(self, instances: Sequence[ReceivedInstance]) -> None:
        self._journal.record_many(instances)
        INSTANCES_RECEIVED.inc(len(instances))

    def known_paths(self) -> set[str]:
        return self._journal.known_paths()

    def study_completed(self, study_instance_uid: str) -> None:
        self._journal.study_completed(study_instance_uid)

    def pending(self) -> list[str]:
        return self._journal.pending()


def serve_process_metrics(port: int | None, host: str) -> None:
    """Serve this process's instruments on ``host:port`` (a thread) when ``port`` is set:
    for a worker or listener that runs without the API."""
    if port:
        start_http_server(port, addr=host)
