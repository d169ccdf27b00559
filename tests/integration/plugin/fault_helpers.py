"""Real components for the fault tests: ``simcase listen`` as a process, stand-in
workers (procrastinate, stand-in models), a slow receiving PACS, and what the database
says about a study's jobs and result sets."""

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
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import psycopg
from pydicom import Dataset
from pydicom.uid import ExplicitVRLittleEndian
from pynetdicom import AE, ALL_TRANSFER_SYNTAXES, AllStoragePresentationContexts, evt
from pynetdicom.sop_class import MRImageStorage  # type: ignore[attr-defined]

from indexer.jobs import create_job_app
from indexer.store import IndexOptions
from indexer.store._pg import open_store
from indexer.worker import WorkerTiming, run_worker_async
from plugin.jobs import TASKS, WorkerResources
from plugin.settings import DicomSettings, ResultsSettings, Settings
from tests.unit.plugin.test_processing_steps import DIM, VERSION, models

__all__ = [
    "SlowPacs",
    "content_hash",
    "register_stand_in_model",
    "result_sets",
    "send_study",
    "simcase_listen",
    "spooled_body",
    "stand_in_workers",
    "study_jobs",
    "wait_until",
    "worker_settings",
]

REPO = Path(__file__).resolve().parents[3]


def wait_until(predicate: Callable[[], object], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


@contextlib.contextmanager
def simcase_listen(
    database_url: str,
    data_dir: Path,
    port: int,
    log: Path,
    stable_seconds: float = 3.0,
    *,
    prefix: Sequence[str] = (),
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """``simcase listen`` as a process (its command after ``prefix``, e.g. an
    ``nsenter`` line), with ``extra_env`` added to its environment."""
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
    env |= extra_env or {}
    start = log.stat().st_size if log.exists() else 0
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", "plugin.cli", "listen"],
            env=env,
            stdout=out,
            stderr=out,
        )
    try:
        wait_until(
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


def spooled_body(path: Path) -> bytes:
    """A spooled file's data set: what follows the File Meta Information group."""
    data = path.read_bytes()
    assert data[128:132] == b"DICM" and data[132:136] == b"\x02\x00\x00\x00"
    return data[144 + int.from_bytes(data[140:144], "little") :]


def study_jobs(database_url: str, study_uid: str) -> list[tuple[int, str]]:
    with psycopg.connect(database_url) as conn:
        return [
            (int(r[0]), str(r[1]))
            for r in conn.execute(
                "SELECT id, status FROM procrastinate_jobs"
                " WHERE task_name LIKE %s AND args->>'study_instance_uid' = %s ORDER BY id",
                ("%process_study", study_uid),
            )
        ]


def send_study(port: int, datasets: list[Dataset]) -> object:
    ae = AE(ae_title="ORTHANC")
    ae.add_requested_context(MRImageStorage, ExplicitVRLittleEndian)
    assoc = ae.associate("127.0.0.1", port, ae_title="SIMCASE")
    assert assoc.is_established
    for ds in datasets:
        assert assoc.send_c_store(ds).Status == 0x0000
    return assoc


@contextlib.contextmanager
def stand_in_workers(settings: Settings, database_url: str) -> Iterator[None]:
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


def result_sets(database_url: str, study_uid: str) -> list[tuple[str, list[str]]]:
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


def content_hash(datasets: list[Dataset]) -> str:
    uids = sorted(str(d.SOPInstanceUID) for d in datasets)
    return hashlib.sha256("\n".join(uids).encode()).hexdigest()[:32]


def register_stand_in_model(database_url: str) -> None:
    """An empty archive under the stand-in models' version."""
    with open_store(database_url, IndexOptions(), max_size=1) as store:
        store.register_model(VERSION, DIM)


def worker_settings(
    database_url: str, data_dir: Path, results: tuple[str, int] | None = None
) -> Settings:
    """The stand-in workers' settings: results by C-STORE to ``results`` (AE title,
    port on 127.0.0.1), else into the data folder."""
    return Settings(
        database_url=database_url,
        data_dir=data_dir,
        dicom=DicomSettings(ae_title="SIMCASE"),
        results=ResultsSettings()
        if results is None
        else ResultsSettings(ae_title=results[0], host="127.0.0.1", port=results[1]),
    )
