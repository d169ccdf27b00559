"""A benchmark's servers gone when it stops.

SIGTERM, SIGHUP and SIGINT are turned into :class:`SystemExit` (``128 + signal``)
so that every ``finally`` of the benchmark runs (each server's context manager stops
its process, the embedded PostgreSQL is released); a second signal during that
clean-up is noted, not raised, so the clean-up finishes. Last, any child process still
running (one started outside a context manager, or a grandchild) is terminated, then
killed after 10 s.
"""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from types import FrameType

import psutil

__all__ = ["reap_children", "run_guarded"]

_SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)


def _stop_on_signals() -> list[int]:
    """SIGTERM, SIGHUP, SIGINT: raise SystemExit(128 + signal) once, then only note;
    the list of signals received (append to it to stop raising)."""
    received: list[int] = []

    def handler(signum: int, frame: FrameType | None) -> None:
        received.append(signum)
        print(f"benchmark: signal {signum}, stopping its processes", file=sys.stderr)
        if len(received) == 1:
            raise SystemExit(128 + signum)

    for sig in _SIGNALS:
        signal.signal(sig, handler)
    return received


def reap_children(timeout: float = 10.0) -> list[int]:
    """Terminate every process still descending from this one, kill those still there
    after ``timeout`` seconds; the pids that were found."""
    children = psutil.Process().children(recursive=True)
    for child in children:
        try:
            child.terminate()
        except psutil.NoSuchProcess:
            pass
    _, alive = psutil.wait_procs(children, timeout=timeout)
    for child in alive:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=timeout)
    return [c.pid for c in children]


def run_guarded(main: Callable[[], None]) -> None:
    """Run a benchmark's ``main``, stopping its servers on SIGTERM, SIGHUP or SIGINT
    and on any exit, and leaving no child behind."""
    received = _stop_on_signals()
    try:
        main()
    finally:
        received.append(0)  # a signal from here on must not cut the clean-up short
        left = reap_children()
        if left:
            print(f"benchmark: stopped {len(left)} leftover process(es)", file=sys.stderr)
