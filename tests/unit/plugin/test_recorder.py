"""The journal recorder: rows off the acknowledgement path, batched, never lost."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

from indexer.intake import ReceivedInstance
from plugin.dicom import MemoryJournal
from plugin.dicom.recorder import JournalRecorder


def instance(n: int) -> ReceivedInstance:
    return ReceivedInstance(f"1.2.{n}", "1.2", "1.2.1", "1.2.840.10008.5.1.4.1.1.4", Path(f"{n}"))


class SlowJournal(MemoryJournal):
    """Records batches; the first ``failures`` batches fail; each waits for ``gate``."""

    def __init__(self, failures: int = 0) -> None:
        super().__init__()
        self.batches: list[int] = []
        self.failures = failures
        self.gate = threading.Event()
        self.gate.set()

    def record_many(self, instances: Sequence[ReceivedInstance]) -> None:
        self.gate.wait(5)
        if self.failures:
            self.failures -= 1
            raise OSError("database down")
        self.batches.append(len(instances))
        super().record_many(instances)


def test_rows_are_batched_and_flush_waits_for_them() -> None:
    journal = SlowJournal()
    recorder = JournalRecorder(journal)
    recorder.start()
    try:
        journal.gate.clear()  # the writer is busy: rows pile up
        for n in range(50):
            recorder.add(instance(n))
        journal.gate.set()
        assert recorder.flush(5)
        assert len(journal.instances) == 50
        assert len(journal.batches) < 50
        assert recorder.backlog == 0
    finally:
        recorder.stop()


def test_failed_batches_are_retried() -> None:
    journal = SlowJournal(failures=2)
    recorder = JournalRecorder(journal, retry_seconds=0.01)
    recorder.start()
    try:
        recorder.add(instance(1))
        recorder.add(instance(2))
        assert recorder.flush(5)
        assert sorted(key[2] for key in journal.instances) == ["1.2.1", "1.2.2"]
    finally:
        recorder.stop()


def test_stop_writes_what_is_queued_and_unstarted_flush_writes_inline() -> None:
    journal = SlowJournal()
    recorder = JournalRecorder(journal)
    recorder.add(instance(1))
    assert recorder.flush(1)
    assert [key[2] for key in journal.instances] == ["1.2.1"]
    recorder.add(instance(2))
    recorder.stop()
    assert sorted(key[2] for key in journal.instances) == ["1.2.1", "1.2.2"]
