"""A running listener for tests, what its callback saw, and instances as files for a
sender to send."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pydicom import Dataset

from plugin.dicom import DicomListener, PostgresJournal
from plugin.settings import DicomSettings

__all__ = ["CollectingCallback", "running_listener", "write_files"]


class CollectingCallback:
    """A real ``on_study_complete``: collects the StudyInstanceUIDs it is called with."""

    def __init__(self) -> None:
        self.studies: list[str] = []
        self._cond = threading.Condition()

    def __call__(self, study_uid: str) -> None:
        with self._cond:
            self.studies.append(study_uid)
            self._cond.notify_all()

    def wait_for(self, count: int, timeout: float = 10.0) -> list[str]:
        with self._cond:
            self._cond.wait_for(lambda: len(self.studies) >= count, timeout=timeout)
            return list(self.studies)


@contextmanager
def running_listener(
    database_url: str,
    spool: Path,
    callback: CollectingCallback,
    *,
    allowed_aes: list[str] | None = None,
    debounce_seconds: float = 0.3,
    stable_seconds: float = 30.0,
    **limits: Any,
) -> Iterator[DicomListener]:
    settings = DicomSettings(
        ae_title="SIMCASE",
        host="127.0.0.1",
        allowed_aes=allowed_aes if allowed_aes is not None else ["STORESCU", "ECHOSCU", "TESTSCU"],
        debounce_seconds=debounce_seconds,
        stable_seconds=stable_seconds,
        **limits,
    )
    journal = PostgresJournal(database_url, max_size=4)
    journal.open()
    listener = DicomListener(settings, spool, journal, callback, port=0)
    listener.start()
    try:
        yield listener
    finally:
        listener.stop()
        journal.close()


def write_files(datasets: list[Dataset], folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for ds in datasets:
        path = folder / f"{ds.SOPInstanceUID}.dcm"
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths
