"""``process_study`` as named steps: load -> answer -> deliver (the report, then the
outline objects) -> record.

:func:`answer_study` runs the four steps over the services it is given
(:class:`StudyServices`); :func:`~plugin.processing.process_study` gives it the real
ones (the spool or the PACS, the case store, the sender, the results log), unit tests
give it in-memory ones.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydicom.dataset import Dataset

from indexer.pipeline import ModelSet
from indexer.results_log import ResultRecord, ResultsLog
from indexer.store import VectorStore
from plugin.errors import SendError
from plugin.processing.answer import answer
from plugin.processing.build import PendingOutline, result_set
from plugin.processing.load import StudySource, load
from plugin.results.folder import FolderSender
from plugin.results.sender import ResultSender, SendReport

__all__ = [
    "ProcessOutcome",
    "StudyServices",
    "answer_study",
    "deliver",
    "deliver_outline",
    "record",
]

log = logging.getLogger(__name__)


@dataclass
class ProcessOutcome:
    """What processing one study did (the job's result)."""

    study_instance_uid: str
    state: str  # "sent", "saved", "unchanged", "no-input"
    model_version: str
    sop_instance_uids: list[str] = field(default_factory=list)
    shown_case_ids: list[str] = field(default_factory=list)
    timings_s: dict[str, float] = field(default_factory=dict)
    #: Instances left out because they could not be used (named in the report).
    skipped: int = 0
    #: CPU seconds of the process in each stage (all its threads; the wall-clock
    #: seconds are ``timings_s``).
    cpu_s: dict[str, float] = field(default_factory=dict)
    #: Why the outline objects announced by the report are missing (built or sent after
    #: the report, and failed); ``None`` when they went out or the report says why not.
    outline_missing: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "outline_missing": self.outline_missing,
            "skipped": self.skipped,
            "study_instance_uid": self.study_instance_uid,
            "state": self.state,
            "model_version": self.model_version,
            "sop_instance_uids": self.sop_instance_uids,
            "shown_case_ids": self.shown_case_ids,
            "timings_s": {k: round(v, 3) for k, v in self.timings_s.items()},
            "cpu_s": {k: round(v, 3) for k, v in self.cpu_s.items()},
        }


@dataclass(frozen=True)
class StudyServices:
    """What the steps work with."""

    source: StudySource
    store: VectorStore
    #: The models of the version searches use (``indexer.pipeline.models_for_search``).
    models: ModelSet
    sender: ResultSender
    results: ResultsLog
    include_seg: bool = True


class _Laps:
    """Seconds spent in each stage, one lap after the other: wall clock and the
    process's CPU time."""

    def __init__(self) -> None:
        self.timings: dict[str, float] = {}
        self.cpu: dict[str, float] = {}
        self._clock = time.perf_counter()
        self._cpu_clock = time.process_time()

    def lap(self, stage: str) -> None:
        now, cpu_now = time.perf_counter(), time.process_time()
        self.timings[stage] = now - self._clock
        self.cpu[stage] = cpu_now - self._cpu_clock
        self._clock, self._cpu_clock = now, cpu_now


def answer_study(study_instance_uid: str, services: StudyServices) -> ProcessOutcome:
    """Load the study, answer it, deliver the answer and record it.

    Nothing is sent when the study holds only simcase's own objects (``no-input``) or
    was answered with the same instances under this model version (``unchanged``).
    """
    laps = _Laps()
    version = services.models.model_version
    loaded = load(study_instance_uid, services.source)
    if not loaded.datasets:
        return ProcessOutcome(study_instance_uid, "no-input", version, skipped=len(loaded.skipped))
    previous = services.results.previous(study_instance_uid, version, loaded.content_hash)
    if previous.already_sent:
        log.info("results already sent for this content", extra={"study_uid": study_instance_uid})
        return ProcessOutcome(study_instance_uid, "unchanged", version)
    laps.lap("load_files")
    answered = answer(
        loaded,
        services.store,
        services.models,
        uid_seed=f"{study_instance_uid}|{version}|{loaded.content_hash}",
        supersedes=previous.supersedes,
        include_seg=services.include_seg,
        lap=laps.lap,
    )
    report = deliver(answered.main, services.sender)
    laps.lap("send")
    outline_objects, missing = deliver_outline(answered.outline, services.sender, laps.lap)
    objects = [str(ds.SOPInstanceUID) for ds in result_set(answered.main, outline_objects)]
    record(
        services.results,
        ResultRecord(
            study_instance_uid=study_instance_uid,
            model_version=version,
            content_hash=loaded.content_hash,
            series_instance_uid=str(answered.main[-1].SeriesInstanceUID),
            sop_instance_uids=objects,
            destination=report.destination,
            shown_case_ids=answered.shown_case_ids,
            supersedes=previous.supersedes,
            outline_missing=missing,
        ),
    )
    return ProcessOutcome(
        study_instance_uid,
        "saved" if isinstance(services.sender, FolderSender) else "sent",
        version,
        objects,
        answered.shown_case_ids,
        laps.timings,
        len(loaded.skipped),
        laps.cpu,
        missing,
    )


def deliver(objects: list[Dataset], sender: ResultSender) -> SendReport:
    """Step 3: send one batch of the result set (C-STORE, STOW-RS, or into the results
    folder), in the order given: first the montage and the report
    (:attr:`~plugin.processing.answer.Answer.main`), then :func:`deliver_outline`."""
    report = sender.send(objects)
    if isinstance(sender, FolderSender):
        log.warning(
            "no results destination configured; results saved to the data directory",
            extra={"study_uid": str(objects[-1].StudyInstanceUID)},
        )
    return report


def deliver_outline(
    pending: PendingOutline | None, sender: ResultSender, lap: Callable[[str], None]
) -> tuple[list[Dataset], str | None]:
    """Step 3, second batch: build the outline objects and send them after the report.

    Returns the objects sent and, when building or sending them failed, why they are
    missing (logged with UIDs only). The report already went out; it said nothing of a
    failure here, because :func:`~plugin.results.outline_objects.outline_refusal` found
    none, so this failure is recorded instead of being raised (a retry of the job would
    find the study answered).
    """
    if pending is None:
        return [], None
    study_uid = pending.outline.study_uid
    try:
        objects = pending.build()
    except Exception as exc:  # the outline is an extra: the report is out already
        log.error(
            "tumour outline not built after the report (%s)",
            type(exc).__name__,
            extra={"study_uid": study_uid},
        )
        return [], f"not built ({type(exc).__name__})"
    finally:
        lap("outline")
    try:
        deliver(objects, sender)
    except (SendError, OSError) as exc:
        log.error(
            "tumour outline not sent after the report",
            extra={"study_uid": study_uid, "sop_uids": [str(d.SOPInstanceUID) for d in objects]},
        )
        return [], f"not sent ({type(exc).__name__})"
    finally:
        lap("send_outline")
    return objects, None


def record(results: ResultsLog, result: ResultRecord) -> None:
    """Step 4: record the delivered result set (and audit the cases it showed)."""
    results.record(result)
    log.info(
        "results delivered",
        extra={
            "study_uid": result.study_instance_uid,
            "objects": len(result.sop_instance_uids),
            "destination": result.destination,
        },
    )
