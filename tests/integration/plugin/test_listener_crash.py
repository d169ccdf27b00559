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

import asyncio
import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from pydicom import Dataset
from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
from pynetdicom.sop_class import MRImageStorage  # type: ignore[attr-defined]

from indexer.jobs import create_job_app
from indexer.store import IndexOptions
from indexer.store._pg import open_store
from indexer.worker import WorkerTiming, run_worker_async
from plugin.jobs import TASKS, WorkerResources
from plugin.results import codes
from plugin.settings import DicomSettings, ResultsSettings, Settings
from tests.conftest import free_port
from tests.unit.plugin.samples import mr_series
from tests.unit.plugin.test_processing_steps import DIM, VERSION, models

pytestmark = [pytest.mark.integration, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[3]


def _wait(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@contextlib.contextmanager
def _listen(
    database_url: str, data_dir: Path, port: int, log: Path, stable_seconds: float = 3.0
) -> Iterator[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SIMCASE_")}
    env |= {
        "PYTHONPATH": str(REPO),
        "PYTHONUNBUFFERED": "1",
        "SIMCASE_DATABASE_URL": database_url,
        "SIMCASE_DATA_DIR": str(data_dir),
        "SIMCASE_DICOM__HOST": "127.0.0.1",
        "SIMCASE_DICOM__PORT": str(port),
        "SIMCASE_DICOM__DEBOUNCE_SECONDS": "0.5",
        "SIMCASE_DICOM__STABLE_SECONDS": str(stable_seconds),
    }
    start = log.stat().st_size if log.exists() else 0
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "plugin.cli", "listen"], env=env, stdout=out, stderr=out
        )
    try:
        _wait(
            lambda: (
                "DICOM listener SIMCASE on" in log.read_bytes()[start:].decode(errors="replace")
                or proc.poll() is not None
            ),
            60,
            "the listener to start",
        )
        assert proc.poll() is None, log.read_text()
        yield proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


class SlowPacs:
    """The results' destination: a real storage SCP whose first C-STORE waits until
    ``gate`` is set (a slow PACS), and which keeps every object it receives."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.received: dict[str, Dataset] = {}
        self._lock = threading.Lock()
        ae = AE(ae_title="PACS")
        for context in AllStoragePresentationContexts:
            if context.abstract_syntax is not None:
                ae.add_supported_context(context.abstract_syntax, ALL_TRANSFER_SYNTAXES)
        server = ae.start_server(
            ("127.0.0.1", 0), block=False, evt_handlers=[(evt.EVT_C_STORE, self._store)]
        )
        assert server is not None
        self.server = server
        self.port = int(self.server.server_address[1])

    def _store(self, event: evt.Event) -> int:
        self.gate.wait(30)
        ds = event.dataset
        with self._lock:
            self.received[str(ds.SOPInstanceUID)] = ds
        return 0x0000

    def stop(self) -> None:
        self.gate.set()
        self.server.shutdown()


def _jobs(database_url: str, study_uid: str) -> list[tuple[int, str]]:
    with psycopg.connect(database_url) as conn:
        return [
            (int(r[0]), str(r[1]))
            for r in conn.execute(
                "SELECT id, status FROM procrastinate_jobs"
                " WHERE task_name LIKE %s AND args->>'study_instance_uid' = %s ORDER BY id",
                ("%process_study", study_uid),
            )
        ]


def _send(port: int, datasets: list[Dataset]) -> object:
    ae = AE(ae_title="ORTHANC")
    ae.add_requested_context(MRImageStorage, ExplicitVRLittleEndian)
    assoc = ae.associate("127.0.0.1", port, ae_title="SIMCASE")
    assert assoc.is_established
    for ds in datasets:
        assert assoc.send_c_store(ds).Status == 0x0000
    return assoc


@contextlib.contextmanager
def _workers(settings: Settings, database_url: str) -> Iterator[None]:
    """A procrastinate worker running two jobs at once, as two workers would."""
    resources = WorkerResources(conninfo=database_url, settings=settings)
    resources._models = models()  # stand-in models: the test is about delivery
    loop = asyncio.new_event_loop()
    app = create_job_app(database_url, tasks=TASKS)

    async def run() -> None:
        async with app.open_async():
            await run_worker_async(app, resources, timing=WorkerTiming(), concurrency=2)

    task = loop.create_task(run())

    def in_thread() -> None:
        with contextlib.suppress(asyncio.CancelledError):
            loop.run_until_complete(task)
        loop.close()

    thread = threading.Thread(target=in_thread, daemon=True)
    thread.start()
    try:
        yield
    finally:
        loop.call_soon_threadsafe(task.cancel)
        thread.join(30)
        resources.close()


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


def _result_sets(database_url: str, study_uid: str) -> list[tuple[str, list[str]]]:
    """(content hash, SOPInstanceUIDs sent) of each result set, oldest first."""
    with psycopg.connect(database_url) as conn:
        return [
            (str(r[0]), list(r[1]))
            for r in conn.execute(
                "SELECT content_hash, sop_instance_uids FROM results"
                " WHERE study_instance_uid = %s ORDER BY sent_at",
                (study_uid,),
            )
        ]


def _content_hash(datasets: list[Dataset]) -> str:
    uids = sorted(str(d.SOPInstanceUID) for d in datasets)
    return hashlib.sha256("\n".join(uids).encode()).hexdigest()[:32]


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
    with _workers(settings, database_url):
        with _listen(database_url, tmp_path / "data", port, log, stable) as first:
            partial = _send(port, study[:3])  # acknowledged, association still open
            first.kill()  # SIGKILL mid-study
            first.wait()
            partial.abort()  # type: ignore[attr-defined]
        with _listen(database_url, tmp_path / "data", port, log, stable):
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
            _wait(
                lambda: [s for _, s in _jobs(database_url, study_uid)] == ["doing"],
                60,
                "the partial study's job",
            )
            resend = _send(port, study)
            resend.release()  # type: ignore[attr-defined]
            _wait(lambda: len(_jobs(database_url, study_uid)) == 2, 30, "the resend's job")
            # a slow PACS: the first delivery waits until the second job could run
            with contextlib.suppress(AssertionError):
                _wait(lambda: _jobs(database_url, study_uid)[1][1] != "todo", 5, "job 2")
            pacs.gate.set()
            _wait(
                lambda: all(s == "succeeded" for _, s in _jobs(database_url, study_uid)),
                60,
                "both jobs to finish",
            )
    finally:
        pacs.stop()
    sets = _result_sets(database_url, study_uid)
    assert len(sets) == 2  # the partial study's answer, then the whole study's
    assert all(uid in pacs.received for _, uids in sets for uid in uids)
    reports = [pacs.received[uids[-1]] for _, uids in sets]  # the report goes last
    superseded = {_supersedes(r) for r in reports} - {None}
    in_effect = [r for r in reports if str(r.SOPInstanceUID) not in superseded]
    assert len(in_effect) == 1, [(_supersedes(r), str(r.SOPInstanceUID)) for r in reports]
    # the answer in effect is the last one sent, and it covers the whole study
    assert str(in_effect[0].SOPInstanceUID) == sets[-1][1][-1]
    assert sets[-1][0] == _content_hash(study)


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
            assert _jobs(database_url, study_uid) == []
            resend = _send(port, study)
            resend.release()  # type: ignore[attr-defined]
            _wait(
                lambda: [s for _, s in _jobs(database_url, study_uid)] == ["succeeded"],
                60,
                "the study's job",
            )
    finally:
        pacs.stop()
    sets = _result_sets(database_url, study_uid)
    assert [content for content, _ in sets] == [_content_hash(study)]
    assert _supersedes(pacs.received[sets[0][1][-1]]) is None
