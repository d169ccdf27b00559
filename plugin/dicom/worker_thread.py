"""A background thread driven by a condition variable, started and stopped idempotently."""

from __future__ import annotations

import threading

__all__ = ["ConditionThread"]


class ConditionThread:
    """Owns ``_cond``, ``_stopping`` and the thread that runs :meth:`_run`.

    Subclasses implement :meth:`_run`, which waits on ``_cond`` and returns once
    ``_stopping`` is set.

    Parameters
    ----------
    name
        The thread's name (shown in thread dumps and logs).
    """

    def __init__(self, name: str) -> None:
        self._thread_name = name
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Run the thread (idempotent)."""
        with self._cond:
            if self._thread is not None:
                return
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name=self._thread_name, daemon=True)
            self._thread.start()

    def _stop_thread(self) -> None:
        """Ask :meth:`_run` to return and wait for the thread (no-op when not running)."""
        with self._cond:
            self._stopping = True
            thread, self._thread = self._thread, None
            self._cond.notify_all()
        if thread is not None:
            thread.join()

    def _run(self) -> None:
        raise NotImplementedError
