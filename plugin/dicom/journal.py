"""Where the listener records what it received: the database journal, or memory."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, Protocol

from psycopg_pool import ConnectionPool

from indexer.intake import ReceivedInstance, mark_study_complete, pending_studies, record_instance

__all__ = ["InstanceJournal", "MemoryJournal", "PostgresJournal"]


class InstanceJournal(Protocol):
    """Records acknowledged instances and completed studies durably."""

    def record(self, instance: ReceivedInstance) -> bool:
        """Record one instance; ``True`` if it is new to its study and series."""
        ...

    def record_many(self, instances: Sequence[ReceivedInstance]) -> None:
        """Record several instances in one transaction (all or none)."""
        ...

    def known_paths(self) -> set[str]:
        """The spool paths of every recorded instance."""
        ...

    def study_completed(self, study_instance_uid: str) -> None:
        """Note that a study was declared complete."""
        ...

    def pending(self) -> list[str]:
        """Studies received but not declared complete since their last instance."""
        ...


class PostgresJournal:
    """The journal in PostgreSQL (tables ``received_instances`` and ``intake_studies``).

    Holds a small connection pool: one connection per concurrent association at most.
    """

    def __init__(self, conninfo: str, *, max_size: int = 8) -> None:
        self._pool: ConnectionPool[Any] = ConnectionPool(
            conninfo, min_size=1, max_size=max_size, open=False, name="simcase-listener"
        )

    def open(self) -> None:
        """Open the pool (waits for the first connection)."""
        self._pool.open(wait=True, timeout=30)

    def close(self) -> None:
        """Close the pool."""
        self._pool.close()

    def record(self, instance: ReceivedInstance) -> bool:
        with self._pool.connection() as conn:
            return record_instance(conn, instance)

    def record_many(self, instances: Sequence[ReceivedInstance]) -> None:
        with self._pool.connection() as conn, conn.transaction(), conn.pipeline():
            for instance in instances:
                record_instance(conn, instance)

    def known_paths(self) -> set[str]:
        with self._pool.connection() as conn:
            return {str(r[0]) for r in conn.execute("SELECT path FROM received_instances")}

    def study_completed(self, study_instance_uid: str) -> None:
        with self._pool.connection() as conn:
            mark_study_complete(conn, study_instance_uid)

    def pending(self) -> list[str]:
        with self._pool.connection() as conn:
            return [s.study_instance_uid for s in pending_studies(conn)]


class MemoryJournal:
    """A journal in memory (for tools and tests that run without a database)."""

    def __init__(self) -> None:
        #: By (StudyInstanceUID, SeriesInstanceUID, SOPInstanceUID), as in the database.
        self.instances: dict[tuple[str, str, str], ReceivedInstance] = {}
        self.completed: list[str] = []
        self._lock = threading.Lock()

    def record(self, instance: ReceivedInstance) -> bool:
        with self._lock:
            key = (
                instance.study_instance_uid,
                instance.series_instance_uid,
                instance.sop_instance_uid,
            )
            new = key not in self.instances
            self.instances[key] = instance
            return new

    def record_many(self, instances: Sequence[ReceivedInstance]) -> None:
        for instance in instances:
            self.record(instance)

    def known_paths(self) -> set[str]:
        with self._lock:
            return {str(i.path) for i in self.instances.values()}

    def study_completed(self, study_instance_uid: str) -> None:
        with self._lock:
            self.completed.append(study_instance_uid)

    def pending(self) -> list[str]:
        with self._lock:
            studies = {i.study_instance_uid for i in self.instances.values()}
            return sorted(studies - set(self.completed))
