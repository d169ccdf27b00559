"""A listener killed with SIGKILL in the middle of a study, then the whole study resent:
exactly one result set in effect.

The real fault: ``simcase listen`` (a subprocess on a test database of the embedded
PostgreSQL) acknowledges part of a study and is killed with SIGKILL while the
association is open. At its restart the journal holds the partial study, pending, and
the listener completes it: ``process_study`` is queued and a worker takes it. While that
job is still delivering (the receiving PACS is slow), the sender resends the whole
study, and ``process_study`` is queued again. Two workers (procrastinate, concurrency 2)
run the jobs, with stand-in models, delivering by C-STORE to a real SCP.

Before: the second job ran beside the first, both found no earlier result and both
result sets went out as the study's answer, neither superseding the other. Now jobs of
one study run one after the other (procrastinate lock ``study:<uid>``): the second reads
the first's record and supersedes its report, and the answer in effect covers the whole
study.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydicom import Dataset

from indexer.store import IndexOptions
from indexer.store._pg import open_store
from plugin.results import codes
from plugin.settings import DicomSettings, ResultsSettings, Settings
from tests.conftest import free_port
from tests.integration.plugin.fault_helpers import (
    SlowPacs,
    content_hash,
    result_sets,
    send_study,
    simcase_listen,
    stand_in_workers,
    study_jobs,
    wait_until,
)
from tests.unit.plugin.samples import mr_series
from tests.unit.plugin.test_processing_steps import DIM, VERSION

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def _supersedes(report: Dataset) -> str | None:
    found: list[str] = []

    def walk(items: object) -> None:
        for item in items or []:  # type: ignore[attr-defined]
            name = item.get("ConceptNameCodeSequence")
            if name and name[0].CodeValue == codes.SUPERSEDES.value:
                found.append(str(item.TextValue))
            walk(item.get("ContentSequence"))

    walk(report.get("ContentSequence"))
    return found[0] if found else None


@contextlib.contextmanager
def _crashed_mid_study(
    database_url: str, tmp_path: Path, study: list[Dataset], pacs: SlowPacs, stable: float
) -> Iterator[int]:
    """Workers running; a listener that acknowledged 3 instances of ``study`` was killed
    with SIGKILL with its association open, and is running again: yields its port."""
    with open_store(database_url, IndexOptions(), max_size=1) as store:
        store.register_model(VERSION, DIM)  # an empty archive under the stand-in model
    port = free_port()
    log = tmp_path / "listen.log"
    settings = Settings(
        database_url=database_url,
        data_dir=tmp_path / "data",
        dicom=DicomSettings(ae_title="SIMCASE"),
        results=ResultsSettings(ae_title="PACS", host="127.0.0.1", port=pacs.port),
    )
    with stand_in_workers(settings, database_url):
        with simcase_listen(database_url, tmp_path / "data", port, log, stable) as first:
            partial = send_study(port, study[:3])  # acknowledged, association still open
            first.kill()  # SIGKILL mid-study
            first.wait()
            partial.abort()  # type: ignore[attr-defined]
        with simcase_listen(database_url, tmp_path / "data", port, log, stable):
            yield port


def test_listener_killed_mid_study_then_resend_leaves_one_result_set_in_effect(
    database_url: str, tmp_path: Path
) -> None:
    """The resend comes after the restarted listener answered the partial study (here
    ``stable_seconds`` 3 s), and while that answer is still being delivered."""
    pacs = SlowPacs()
    study = mr_series(8, rows=32, columns=32)
    study_uid = str(study[0].StudyInstanceUID)
    try:
        with _crashed_mid_study(database_url, tmp_path, study, pacs, stable=3) as port:
            # the partial study is completed after stable_seconds; a worker takes it
            wait_until(
                lambda: [s for _, s in study_jobs(database_url, study_uid)] == ["doing"],
                60,
                "the partial study's job",
            )
            resend = send_study(port, study)
            resend.release()  # type: ignore[attr-defined]
            wait_until(
                lambda: len(study_jobs(database_url, study_uid)) == 2, 30, "the resend's job"
            )
            # a slow PACS: the first delivery waits until the second job could run
            with contextlib.suppress(AssertionError):
                wait_until(lambda: study_jobs(database_url, study_uid)[1][1] != "todo", 5, "job 2")
            pacs.gate.set()
            wait_until(
                lambda: all(s == "succeeded" for _, s in study_jobs(database_url, study_uid)),
                60,
                "both jobs to finish",
            )
    finally:
        pacs.stop()
    sets = result_sets(database_url, study_uid)
    assert len(sets) == 2  # the partial study's answer, then the whole study's
    assert all(uid in pacs.received for _, uids in sets for uid in uids)
    reports = [pacs.received[uids[-1]] for _, uids in sets]  # the report goes last
    superseded = {_supersedes(r) for r in reports} - {None}
    in_effect = [r for r in reports if str(r.SOPInstanceUID) not in superseded]
    assert len(in_effect) == 1, [(_supersedes(r), str(r.SOPInstanceUID)) for r in reports]
    # the answer in effect is the last one sent, and it covers the whole study
    assert str(in_effect[0].SOPInstanceUID) == sets[-1][1][-1]
    assert sets[-1][0] == content_hash(study)


def test_a_resend_within_stable_seconds_of_the_restart_is_answered_once(
    database_url: str, tmp_path: Path
) -> None:
    """The usual case: the sender resends the study soon after the restart (within
    ``stable_seconds``, 30 s by default; 20 s here). The part received before the crash
    is never answered on its own: one job, one result set, for the whole study.
    Before, the partial study was answered 0.5 s (the debounce) after the restart."""
    pacs = SlowPacs()
    pacs.gate.set()
    study = mr_series(8, rows=32, columns=32)
    study_uid = str(study[0].StudyInstanceUID)
    try:
        with _crashed_mid_study(database_url, tmp_path, study, pacs, stable=20) as port:
            time.sleep(2)  # the sender notices the lost association and starts over
            assert study_jobs(database_url, study_uid) == []
            resend = send_study(port, study)
            resend.release()  # type: ignore[attr-defined]
            wait_until(
                lambda: [s for _, s in study_jobs(database_url, study_uid)] == ["succeeded"],
                60,
                "the study's job",
            )
    finally:
        pacs.stop()
    sets = result_sets(database_url, study_uid)
    assert [content for content, _ in sets] == [content_hash(study)]
    assert _supersedes(pacs.received[sets[0][1][-1]]) is None
