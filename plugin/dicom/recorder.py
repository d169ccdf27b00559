"""Journal rows written off the acknowledgement path, in batches, on their own thread.

The listener acknowledges an instance once its file is fsynced in the spool (the durable
record); its journal row follows within milliseconds, many rows per transaction, so a
620-instance study costs a few commits instead of 620. :meth:`JournalRecorder.flush`
waits for every row added before it (the listener flushes when an association ends and
before a study is declared complete). Rows lost in a crash are rebuilt from the spool at
the next start (:meth:`plugin.dicom.DicomListener.start`).
"""

from __future__ import annotations

import logging

from indexer.intake import ReceivedInstance
from indexer.jobs import readable_error
from plugin.dicom.journal import InstanceJournal
from plugin.dicom.worker_thread import ConditionThread

__all__ = ["JournalRecorder"]

log = logging.getLogger(__name__)


class JournalRecorder(ConditionThread):
    """Queues :class:`ReceivedInstance` rows and writes them to ``journal`` in batches.

    Parameters
    ----------
    journal
        Where the rows go (``record_many``: one transaction per batch).
    retry_seconds
        Wait before writing a failed batch again (the rows stay queued).
    """

    def __init__(self, journal: InstanceJournal, *, retry_seconds: float = 1.0) -> None:
        self._journal = journal
        self._retry = retry_seconds
        self._queue: list[ReceivedInstance] = []
        self._added = 0
        self._written = 0
        super().__init__("journal-writer")

    def add(self, instance: ReceivedInstance) -> None:
        """Queue one row (returns at once)."""
        with self._cond:
            self._queue.append(instance)
            self._added += 1
            self._cond.notify_all()

    def flush(self, timeout: float | None = 30.0) -> bool:
        """Wait until every row added so far is committed; ``False`` on timeout."""
        with self._cond:
            target = self._added
            if self._thread is None:  # not started: write on the caller's thread
                self._write_locked()
            return self._cond.wait_for(lambda: self._written >= target, timeout=timeout)

    @property
    def backlog(self) -> int:
        """Rows queued but not yet committed."""
        with self._cond:
            return self._added - self._written

    def stop(self) -> None:
        """Write what is queued, then stop the thread."""
        self._stop_thread()
        with self._cond:
            if self._queue:
                try:
                    self._write_locked()
                except Exception:
                    log.exception(
                        "journal rows not written at stop (%d); the spool scan at the next"
                        " start records them",
                        len(self._queue),
                    )

    def _write_locked(self) -> None:
        batch, self._queue = self._queue, []
        try:
            self._journal.record_many(batch)
        except Exception:
            self._queue[:0] = batch
            raise
        self._written += len(batch)
        self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: bool(self._queue) or self._stopping)
                if self._stopping:
                    return
                batch, self._queue = self._queue, []
            try:
                self._journal.record_many(batch)
            except Exception as exc:
                # once a second while the database is away: one line, no traceback
                log.error(
                    "journal rows not written (%d queued; %s); retrying",
                    len(batch),
                    readable_error(exc, 200),
                )
                with self._cond:
                    self._queue[:0] = batch
                    self._cond.wait(timeout=self._retry)
                continue
            with self._cond:
                self._written += len(batch)
                self._cond.notify_all()
